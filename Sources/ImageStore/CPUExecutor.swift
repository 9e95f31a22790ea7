import NIOCore
import NIOPosix

/// Threads of their own for work that keeps a core busy: digests of received and stored
/// files, ZFS stream checks, verified sends, mirrors and remote imports. In `imgapid serve`
/// tasks otherwise run on the event loops (`IMGAPIApplication.runTasksOnEventLoops`), where
/// such work would hold up every connection of its loop, and share one core with the
/// socket it reads from.
public final class CPUExecutor: TaskExecutor {
    /// One thread per core.
    public static let shared = CPUExecutor(threads: NIOSingletons.groupLoopCountSuggestion)

    private let pool: NIOThreadPool

    private init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        pool.submit { _ in job.runSynchronously(on: executor) }
    }
}
