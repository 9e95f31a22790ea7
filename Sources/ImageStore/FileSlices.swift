import NIOCore
import NIOFileSystem

/// A range of a file read a slice at a time, each slice read only when asked for. NIO's
/// `readChunks` reads up to 8 chunks ahead of its reader: for a download to a slow client
/// that is 8 chunks held per connection (64 downloads of 1 MiB chunks: 750 MiB). A sender
/// reading these holds one slice and the one its socket is still sending.
public struct FileSlices: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    let handle: ReadFileHandle
    let range: Range<Int64>
    let length: Int64

    public init(_ handle: ReadFileHandle, in range: Range<Int64>, length: ByteCount) {
        self.handle = handle
        self.range = range
        self.length = length.bytes
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(handle: handle, offset: range.lowerBound, end: range.upperBound, length: length)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let handle: ReadFileHandle
        var offset: Int64
        let end: Int64
        let length: Int64

        /// The next slice; nil at the end of the range, or where the file ends before it
        /// (the caller counts what it got).
        public mutating func next() async throws -> ByteBuffer? {
            guard offset < end else { return nil }
            let slice = try await handle.readChunk(fromAbsoluteOffset: offset, length: .bytes(Swift.min(length, end - offset)))
            guard slice.readableBytes > 0 else {
                offset = end
                return nil
            }
            offset += Int64(slice.readableBytes)
            return slice
        }
    }
}
