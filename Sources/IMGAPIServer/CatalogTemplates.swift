import Mustache

/// The web catalog's pages (`CatalogPages`), as Mustache templates: every `{{value}}` is
/// HTML-escaped, so names and descriptions render as text whatever they hold. No script.
enum CatalogTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [("head", head), ("foot", foot), ("list", list), ("image", image)] {
            // The templates are constants of this file: a parse failure is a programming error.
            library.register(try! MustacheTemplate(string: text), named: name)
        }
        return library
    }()

    static let head = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}}</title>
        <style>
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem; color: #1d2329; }
        a { color: #0b5cad; text-decoration: none; } a:hover { text-decoration: underline; }
        header { display: flex; align-items: baseline; gap: 1rem; border-bottom: 1px solid #d7dde3; margin-bottom: 1rem; }
        header h1 { font-size: 1.3rem; margin: .4rem 0; } header span { color: #5b6670; }
        form { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: 1rem; }
        input, select, button { font: inherit; padding: .3rem .5rem; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e6eaee; vertical-align: top; }
        th { color: #5b6670; font-weight: 600; }
        td.desc { color: #5b6670; } td:not(.desc) { white-space: nowrap; }
        code, pre { font: 13px/1.4 ui-monospace, monospace; background: #f3f5f7; padding: .1rem .3rem; border-radius: 3px; }
        pre { padding: .6rem; overflow-x: auto; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
        dt { color: #5b6670; } dd { margin: 0; word-break: break-all; }
        .icon { float: right; max-width: 96px; max-height: 96px; }
        .pager { margin-top: 1rem; display: flex; gap: 1rem; }
        </style>
        </head>
        <body>
        <header><h1><a href="/ui/">{{serverName}}</a></h1><span>{{subtitle}}</span></header>
        """

    static let foot = """
        </body>
        </html>
        """

    static let list = """
        {{> head}}
        <form method="get" action="/ui/">
        <input type="search" name="name" value="{{search.name}}" placeholder="name contains" aria-label="name">
        <select name="os" aria-label="os">{{#osOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/osOptions}}</select>
        <select name="type" aria-label="type">{{#typeOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/typeOptions}}</select>
        {{#hasChannels}}<select name="channel" aria-label="channel">{{#channelOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/channelOptions}}</select>{{/hasChannels}}
        {{#showsStates}}<select name="state" aria-label="state">{{#stateOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/stateOptions}}</select>{{/showsStates}}
        <button type="submit">Search</button>
        </form>
        {{#hasImages}}
        <table>
        <thead><tr><th>name</th><th>version</th><th>os</th><th>type</th><th>published</th><th>size</th><th>description</th></tr></thead>
        <tbody>
        {{#images}}<tr class="image"><td><a href="/ui/images/{{uuid}}">{{name}}</a></td><td>{{version}}</td><td>{{os}}</td><td>{{type}}</td><td>{{published}}</td><td>{{size}}</td><td class="desc">{{description}}</td></tr>
        {{/images}}
        </tbody>
        </table>
        {{/hasImages}}
        {{^hasImages}}<p>No image matches.</p>{{/hasImages}}
        <div class="pager">{{#firstPage}}<a href="{{firstPage}}">Newest</a>{{/firstPage}}{{#nextPage}}<a rel="next" href="{{nextPage}}">Older</a>{{/nextPage}}</div>
        {{> foot}}
        """

    static let image = """
        {{> head}}
        {{#hasIcon}}<img class="icon" src="/images/{{uuid}}/icon" alt="">{{/hasIcon}}
        <h2>{{name}} {{version}}</h2>
        <p>{{description}}</p>
        <p>Import it on a compute node:</p>
        <pre id="import">imgadm import {{uuid}}</pre>
        <dl>
        <dt>uuid</dt><dd>{{uuid}}</dd>
        <dt>os</dt><dd>{{os}}</dd>
        <dt>type</dt><dd>{{type}}</dd>
        <dt>state</dt><dd>{{state}}</dd>
        <dt>published</dt><dd>{{published}}</dd>
        <dt>owner</dt><dd>{{owner}}</dd>
        {{#homepage}}<dt>homepage</dt><dd>{{homepage}}</dd>{{/homepage}}
        {{#hasTags}}<dt>tags</dt><dd>{{#tags}}<code>{{key}}={{value}}</code> {{/tags}}</dd>{{/hasTags}}
        {{#requirements}}<dt>requirements</dt><dd><pre>{{requirements}}</pre></dd>{{/requirements}}
        {{#hasOrigins}}<dt>origin chain</dt><dd>{{#origins}}<a href="/ui/images/{{uuid}}">{{label}}</a> {{/origins}}</dd>{{/hasOrigins}}
        </dl>
        <h3>Files</h3>
        <table>
        <thead><tr><th>size</th><th>compression</th><th>sha1</th><th>sha256</th></tr></thead>
        <tbody>{{#files}}<tr class="file"><td>{{size}}</td><td>{{compression}}</td><td><code>{{sha1}}</code></td><td><code>{{sha256}}</code></td></tr>{{/files}}</tbody>
        </table>
        {{> foot}}
        """
}
