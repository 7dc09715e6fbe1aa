import Foundation
import SRFiles

/// The write end of the pipe that the signal handler reports to (-1 before a guard exists).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Ends the process cleanly on SIGINT, SIGTERM and SIGHUP while images are being written: every
/// temporary output is removed, `onStop` prints what was done so far, and the exit status is
/// 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM), as shells expect.
///
/// A signal may land on any thread (OpenBLAS's and OpenMP's threads too), so the handler only does
/// what is safe there: it writes the signal number into a pipe. A thread of ours waits on the pipe and
/// does the cleanup.
final class SignalGuard {
    init(onStop: @escaping @Sendable (Int32) -> Void) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        let readEnd = ends[0]
        signalPipeWriteEnd = ends[1]
        Thread.detachNewThread {
            var number: UInt8 = 0
            while read(readEnd, &number, 1) != 1 {}
            TemporaryFiles.removeAll()
            onStop(Int32(number))
            fflush(stdout)
            fflush(stderr)
            _exit(128 + Int32(number))
        }
        // A parent may have started us with these signals blocked: let this thread receive them.
        var mask = sigset_t()
        sigemptyset(&mask)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&mask, number) }
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            _ = signal(number) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
        }
    }
}

/// The counts of a batch, shared with the signal handler.
final class BatchTally: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var done = 0
    private(set) var skipped = 0
    private(set) var failures: [(input: String, error: String)] = []

    func recordDone() { lock.withLock { done += 1 } }
    func recordSkipped() { lock.withLock { skipped += 1 } }
    func recordFailure(input: String, error: String) { lock.withLock { failures.append((input, error)) } }

    /// A consistent copy of the counts.
    func snapshot() -> (done: Int, skipped: Int, failures: [(input: String, error: String)]) {
        lock.withLock { (done, skipped, failures) }
    }
}
