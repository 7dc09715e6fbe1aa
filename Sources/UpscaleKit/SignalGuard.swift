import Dispatch
import Foundation
import SRFiles

/// Ends the process cleanly on SIGINT, SIGTERM and SIGHUP while images are being written: every
/// temporary output is removed, `onStop` prints what was done so far, and the exit status is
/// 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM), as shells expect.
final class SignalGuard {
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "upscale.signals")

    init(onStop: @escaping @Sendable (Int32) -> Void) {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                TemporaryFiles.removeAll()
                onStop(number)
                fflush(stdout)
                fflush(stderr)
                _exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
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
