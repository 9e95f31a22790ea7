import IMGAPI
import ImageStore
import ServiceLifecycle

/// Clears the shared object store (`blobs`) of what failed or interrupted publishes left
/// (multipart uploads, and files no image uses, older than a day), at start and then daily,
/// on one replica at a time, and logs what it removed. Stops with the server.
struct SharedStoreCleanup: Service {
    let repository: ImageRepository
    /// What is younger may still belong to a publish under way.
    static let age = Duration.seconds(86_400)
    static let interval = Duration.seconds(86_400)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if let (uploads, files) = try await repository.catalog.alone("shared store clean-up", {
                        try await repository.collectSharedGarbage(olderThan: Self.age)
                    }), uploads + files > 0 {
                        ServerLog.event("shared store cleaned", [("uploads", .number(Double(uploads))), ("files", .number(Double(files)))])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    ServerLog.event("shared store clean-up failed", [("level", .string("error")), ("error", .string("\(error)"))])
                }
                do { try await Task.sleep(for: Self.interval) } catch { return }
            }
        }
    }
}
