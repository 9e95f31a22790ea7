import NIOCore
import NIOPosix

/// Threads of their own for work that keeps a core busy: digests of uploads, ZFS stream
/// checks, verified sends, scrubs, mirrors and remote imports. Tasks otherwise run on the
/// event loops (`IMGAPIApplication.runTasksOnEventLoops`), where such work would hold up
/// every connection of its loop, and would share one core with the socket it reads from.
final class CPUExecutor: TaskExecutor {
    /// One thread per core.
    static let shared = CPUExecutor(threads: NIOSingletons.groupLoopCountSuggestion)

    private let pool: NIOThreadPool

    private init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        pool.submit { _ in job.runSynchronously(on: executor) }
    }
}
