import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Outputs are written to a temporary file beside the destination and renamed into place, so a
/// failure, a signal or a power cut never leaves a half-written file under the final name.
///
/// Temporary names follow one pattern, `.NAME.upscale-PID-RANDOM.tmp`, so that files left by a
/// killed process can be recognised and removed later. Every live temporary is registered here, so
/// a signal handler can remove them all before the process exits.
public enum TemporaryFiles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live = Set<String>()
    nonisolated(unsafe) private static var cleanedFolders = Set<String>()

    /// A fresh temporary path in the folder of `destination`, registered as live.
    public static func create(for destination: String) -> String {
        let folder = FileSystem.parentFolder(of: destination)
        let name = FileSystem.fileName(of: destination)
        let path = folder + "/." + name + ".upscale-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        lock.lock()
        live.insert(path)
        lock.unlock()
        return path
    }

    /// Removes a temporary file and forgets it.
    public static func discard(_ path: String) {
        FileSystem.removeFile(path)
        lock.lock()
        live.remove(path)
        lock.unlock()
    }

    /// Moves a finished temporary file into place: its data is flushed to the disk first, then it is
    /// renamed over `destination`, then the folder entry is flushed too.
    public static func commit(_ path: String, to destination: String) throws {
        FileSystem.synchronize(path)
        do {
            try FileSystem.rename(path, to: destination)
        } catch {
            discard(path)
            throw error
        }
        lock.lock()
        live.remove(path)
        lock.unlock()
        FileSystem.synchronize(FileSystem.parentFolder(of: destination))
    }

    /// Removes every live temporary file (called when a signal ends the process).
    public static func removeAll() {
        lock.lock()
        let paths = live
        live.removeAll()
        lock.unlock()
        for path in paths { FileSystem.removeFile(path) }
    }

    /// Whether a file name follows this program's temporary-file pattern.
    public static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix("."), name.hasSuffix(".tmp"), let marker = name.range(of: ".upscale-", options: .backwards)
        else {
            return false
        }
        let tail = name[marker.upperBound...].dropLast(4).split(separator: "-")
        return tail.count == 2 && tail.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// `removeStale(in:)`, once per folder per process.
    public static func removeStale(inFolderOnce folder: String) {
        lock.lock()
        let first = cleanedFolders.insert(folder).inserted
        lock.unlock()
        if first { removeStale(in: folder) }
    }

    /// Removes temporaries of our naming pattern in `folder` older than `age` seconds (left behind
    /// by a process that was killed with SIGKILL or lost power). Returns how many were removed.
    @discardableResult
    public static func removeStale(in folder: String, olderThan age: Double = 86_400) -> Int {
        guard let names = try? FileSystem.listDirectory(folder) else { return 0 }
        var removed = 0
        for name in names where isTemporaryName(name) {
            let path = folder + "/" + name
            if case .regular = FileSystem.kind(of: path), let fileAge = FileSystem.age(of: path), fileAge > age {
                FileSystem.removeFile(path)
                removed += 1
            }
        }
        return removed
    }
}
