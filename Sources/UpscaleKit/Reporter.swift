import Foundation
import SRFiles

/// Progress and results on stderr (text) or stdout (JSON lines).
final class Reporter: @unchecked Sendable {
    let quiet: Bool
    let json: Bool
    let terminal = standardErrorIsTerminal
    var lastDraw = Date.distantPast

    init(quiet: Bool, json: Bool) {
        self.quiet = quiet
        self.json = json
    }

    func emit(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
            fflush(stdout)
        }
    }

    func progress(label: String, done: Int, total: Int, start: Date) {
        guard !quiet, total > 0 else { return }
        let now = Date()
        if now.timeIntervalSince(lastDraw) < 0.25 && done < total { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        if json {
            emit(["event": "progress", "input": label, "done": done, "total": total, "eta_seconds": eta])
        } else if terminal {
            let line = String(
                format: "\r%@  %3.0f%%  %d/%d tiles  ETA %.0fs ", label, 100 * Double(done) / Double(total), done,
                total, eta)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// One file done; JSON also gives the tile size and workers the memory budget chose.
    func finished(input: String, output: String, run: Engine.Run) {
        let seconds = run.seconds
        if json {
            var event: [String: Any] = [
                "event": "done", "input": PathEncoding.displayed(input), "output": PathEncoding.displayed(output),
                "seconds": seconds,
            ]
            if let tile = run.tile, let workers = run.workers {
                event["tile"] = tile
                event["tile_workers"] = workers
            }
            emit(event)
        } else if !quiet {
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            printError(
                String(
                    format: "%@ -> %@ (%.1fs)", PathEncoding.displayed(input), PathEncoding.displayed(output), seconds))
        }
    }

    func skipped(input: String, output: String) {
        if json {
            emit(["event": "skipped", "input": PathEncoding.displayed(input), "output": PathEncoding.displayed(output)])
        } else if !quiet {
            printError("skipped \(PathEncoding.displayed(input)): \(PathEncoding.displayed(output)) exists")
        }
    }

    func failed(input: String, error: String) {
        if terminal && !quiet && !json { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if json { emit(["event": "failed", "input": PathEncoding.displayed(input), "error": error]) }
        printError("error: \(error)")
    }

    /// The end of a batch; `remaining` files were not started because `--fail-fast` stopped it.
    func summary(
        done: Int, skipped: Int, failures: [(input: String, error: String)], interrupted: Bool = false,
        remaining: Int = 0
    ) {
        if json {
            emit([
                "event": "summary", "done": done, "skipped": skipped, "failed": failures.count,
                "interrupted": interrupted, "remaining": remaining,
                "failures": failures.map { ["input": PathEncoding.displayed($0.input), "error": $0.error] },
            ])
        }
        if !quiet || !failures.isEmpty {
            printError(
                "\(done) upscaled, \(skipped) skipped, \(failures.count) failed"
                    + (remaining > 0 ? ", \(remaining) not started (--fail-fast)" : ""))
            for (_, message) in failures { printError("  failed: \(message)") }
        }
    }

    /// Called from the signal handler: the unfinished output is already removed.
    func interrupted(signal: Int32, tally: (done: Int, skipped: Int, failures: [(input: String, error: String)])) {
        if terminal && !quiet && !json { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let name =
            signal == SIGINT
            ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : signal == SIGHUP ? "SIGHUP" : "signal \(signal)"
        printError("interrupted by \(name): the unfinished output was removed")
        summary(done: tally.done, skipped: tally.skipped, failures: tally.failures, interrupted: true)
    }
}
