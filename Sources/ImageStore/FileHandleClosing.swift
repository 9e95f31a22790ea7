#if canImport(Glibc)
import Glibc
#endif
import NIOFileSystem

extension ReadFileHandle {
    /// Closes the handle, also in a cancelled task (a download cut by the server's stop, a
    /// scrub stopped with it), where NIOFileSystem's `close()` refuses and a handle dropped
    /// open is a fatal error: then the descriptor is closed directly.
    public func closeEvenIfCancelled() async {
        do { try await close() } catch {
            if let descriptor = try? detachUnsafeFileDescriptor() { Glibc.close(descriptor.rawValue) }
        }
    }
}
