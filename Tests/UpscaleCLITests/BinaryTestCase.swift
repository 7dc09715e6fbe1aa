import Foundation
import XCTest

/// Runs the built `upscale` binary the way a user does: byte-exact arguments, a time limit (a hang
/// fails the test instead of blocking the suite), optional signals, and the child's peak RSS.
class BinaryTestCase: XCTestCase {
    static var binary: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "upscale"
        ).path
        if FileManager.default.isExecutableFile(atPath: here) { return here }
        return repository + "/.build/release/upscale"
    }

    static var repository: String {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.path
    }

    struct Result {
        var status: Int32
        var output: String
        var error: String
        /// Peak resident memory of the child, in MB (its VmHWM, sampled every 2 ms until it exits).
        var peakMB: Double
        var timedOut: Bool
    }

    /// Runs the binary (or `executable`) with `arguments` (each argument as raw bytes) in `folder` (default:
    /// the repository).
    /// - Parameters:
    ///   - signal: sends this signal once `after` seconds have passed (or once `when` becomes true).
    ///   - timeout: the child is killed and `timedOut` set after this many seconds.
    func runBytes(
        _ arguments: [[UInt8]], in folder: String? = nil, environment: [String: String] = [:], signal: Int32? = nil,
        after delay: Double = 0, when condition: (() -> Bool)? = nil, timeout: Double = 120,
        executable: String = BinaryTestCase.binary
    ) throws -> Result {
        let outPath = NSTemporaryDirectory() + "upscale-test-\(UUID().uuidString).out"
        let errPath = outPath + ".err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // The child inherits the working folder (tests run one at a time).
        _ = FileManager.default.changeCurrentDirectoryPath(folder ?? Self.repository)
        var argv: [UnsafeMutablePointer<CChar>?] = ([Array(executable.utf8)] + arguments).map { bytes in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (i, byte) in bytes.enumerated() { pointer[i] = CChar(bitPattern: byte) }
            pointer[bytes.count] = 0
            return pointer
        }
        argv.append(nil)
        defer { argv.forEach { $0?.deallocate() } }
        var pid = pid_t()
        var variables: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment
            .merging(environment) { _, new in new }.map { strdup("\($0.key)=\($0.value)") }
        variables.append(nil)
        defer { variables.forEach { free($0) } }
        // The child starts as from a shell: default signal mask and dispositions, whatever this
        // (multi-threaded) test process has.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, variables)
        guard spawned == 0 else { throw NSError(domain: "spawn", code: Int(spawned)) }
        let start = Date()
        var status: Int32 = 0
        var usage = rusage()
        var signalled = signal == nil
        var timedOut = false
        var peakKB = 0.0
        while true {
            // The peak comes from the child's own high-water mark: wait4's ru_maxrss would include the
            // RSS of this (large) test process, which a spawned child inherits until it execs.
            if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
            {
                peakKB = max(peakKB, kilobytes)
            }
            let done = wait4(pid, &status, WNOHANG, &usage)
            if done == pid { break }
            let elapsed = Date().timeIntervalSince(start)
            if !signalled, elapsed >= delay, condition?() ?? true {
                kill(pid, signal!)
                signalled = true
            }
            if elapsed > timeout && !timedOut {
                kill(pid, SIGKILL)
                timedOut = true
            }
            usleep(2_000)
        }
        let exit: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let error = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(
            status: exit, output: output, error: error, peakMB: peakKB / 1024, timedOut: timedOut)
    }

    @discardableResult
    func run(
        _ arguments: [String], in folder: String? = nil, environment: [String: String] = [:], timeout: Double = 120,
        executable: String = BinaryTestCase.binary
    )
        throws -> Result
    {
        try runBytes(
            arguments.map { Array($0.utf8) }, in: folder, environment: environment, timeout: timeout,
            executable: executable)
    }

    var folder = ""
    var model = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        model = folder + "/tiny-x4.safetensors"
        let result = try run(["model", "new", "--features", "4", "--blocks", "1", "--scale", "4", model])
        XCTAssertEqual(result.status, 0, result.error)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func sample(_ name: String) -> String { Self.repository + "/samples/" + name }

    /// Files in `path` whose names look like our temporaries.
    func leftoverTemporaries(in path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".tmp") }
    }
}
