#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a path names. Only regular files are read as images or weights: opening a FIFO blocks
/// forever, and devices, sockets and folders are not files a user means to upscale.
public enum FileKind: Equatable, Sendable {
    case missing
    case regular(size: Int)
    case directory
    /// Anything else, described in words ("a FIFO", "a device", "a socket").
    case special(String)
}

/// File-system calls on byte-exact paths (see `PathEncoding`), with errors that name the file.
public enum FileSystem {
    /// What `path` names, following symbolic links.
    public static func kind(of path: String) -> FileKind {
        var info = stat()
        let status = PathEncoding.withCString(path) { stat($0, &info) }
        guard status == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(info.st_size))
        case S_IFDIR: return .directory
        case S_IFIFO: return .special("a FIFO (named pipe)")
        case S_IFCHR, S_IFBLK: return .special("a device")
        case S_IFSOCK: return .special("a socket")
        default: return .special("not a regular file")
        }
    }

    public static func exists(_ path: String) -> Bool { kind(of: path) != .missing }

    public static func isDirectory(_ path: String) -> Bool { kind(of: path) == .directory }

    /// Throws unless `path` is an existing regular file; returns its size in bytes.
    @discardableResult
    public static func requireRegularFile(_ path: String) throws -> Int {
        switch kind(of: path) {
        case .missing: throw FileError(path: path, reason: "no such file")
        case .regular(let size): return size
        case .directory: throw FileError(path: path, reason: "is a folder, not a file")
        case .special(let what): throw FileError(path: path, reason: "is \(what), not a regular file")
        }
    }

    /// The names in a folder (not `.` and `..`), byte-exact, unsorted.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let directory = PathEncoding.withCString(path, { opendir($0) }) else {
            throw FileError(path: path, reason: "cannot list the folder: \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.prefix { $0 != 0 }
                return PathEncoding.decode(bytes)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Every non-folder entry under `root` (recursively when `recursive`), as relative paths. Folders
    /// reached through symbolic links are not entered (no loops), and folders whose canonical path is
    /// in `excluded` are skipped (an output folder inside the input folder).
    public static func walk(_ root: String, recursive: Bool, excluding excluded: Set<String> = []) throws -> [String] {
        var found: [String] = []
        func visit(_ relative: String) throws {
            let folder = relative.isEmpty ? root : root + "/" + relative
            for name in try listDirectory(folder) {
                let child = relative.isEmpty ? name : relative + "/" + name
                let path = root + "/" + child
                if kind(of: path) == .directory {
                    if recursive && !isSymbolicLink(path) && !excluded.contains(canonicalPath(path)) {
                        try visit(child)
                    }
                } else {
                    found.append(child)
                }
            }
        }
        try visit("")
        return found
    }

    /// Whether `path` itself is a symbolic link.
    public static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        guard PathEncoding.withCString(path, { lstat($0, &info) }) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFLNK
    }

    /// Creates a folder and its missing parents.
    public static func createDirectories(_ path: String) throws {
        switch kind(of: path) {
        case .directory: return
        case .missing: break
        default: throw FileError(path: path, reason: "exists and is not a folder")
        }
        let parent = parentFolder(of: path)
        if parent != path && !parent.isEmpty { try createDirectories(parent) }
        let status = PathEncoding.withCString(path) { mkdir($0, 0o777) }
        if status != 0 && errno != EEXIST {
            throw FileError(path: path, reason: "cannot create the folder: \(String(cString: strerror(errno)))")
        }
    }

    /// The folder part of a path ("." for a bare name).
    public static func parentFolder(of path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// The last component of a path.
    public static func fileName(of path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// An absolute path with symbolic links, `.` and `..` resolved; for a path that does not exist
    /// yet, its folder is resolved and the name appended. Used to compare inputs with outputs.
    public static func canonicalPath(_ path: String) -> String {
        if let resolved = realPath(path.isEmpty ? "." : path) { return resolved }
        let folder = parentFolder(of: path)
        let name = fileName(of: path)
        let base = folder == path ? folder : canonicalPath(folder)
        if name == "." { return base }
        if name == ".." { return parentFolder(of: base) }
        return base == "/" ? "/" + name : base + "/" + name
    }

    private static func realPath(_ path: String) -> String? {
        PathEncoding.withCString(path) { cPath -> String? in
            guard let resolved = realpath(cPath, nil) else { return nil }
            defer { free(resolved) }
            let length = strlen(resolved)
            return resolved.withMemoryRebound(to: UInt8.self, capacity: length) {
                PathEncoding.decode(UnsafeBufferPointer(start: $0, count: length))
            }
        }
    }

    /// Whether two existing paths are the same file (same device and inode).
    public static func isSameFile(_ first: String, _ second: String) -> Bool {
        var a = stat(), b = stat()
        guard PathEncoding.withCString(first, { stat($0, &a) }) == 0,
            PathEncoding.withCString(second, { stat($0, &b) }) == 0
        else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// Reads a whole regular file, refusing special files and files over `maximumBytes`.
    public static func readFile(_ path: String, maximumBytes: Int = 1 << 34) throws -> [UInt8] {
        let size = try requireRegularFile(path)
        guard size <= maximumBytes else {
            throw FileError(path: path, reason: "is \(size) bytes, more than the \(maximumBytes) allowed")
        }
        let file = try PositionedReader(path: path)
        return try file.bytes(at: 0, count: file.size)
    }

    /// Creates a new file (it must not exist) holding `bytes`.
    public static func writeNewFile(_ path: String, bytes: UnsafeRawBufferPointer) throws {
        let descriptor = PathEncoding.withCString(path) { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
        guard descriptor >= 0 else {
            throw FileError(path: path, reason: "cannot create: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var done = 0
        while done < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw FileError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            done += count
        }
    }

    /// Removes a file; errors are ignored (used for cleanup).
    public static func removeFile(_ path: String) {
        _ = PathEncoding.withCString(path) { unlink($0) }
    }

    /// Renames `source` to `destination` atomically (same folder).
    public static func rename(_ source: String, to destination: String) throws {
        let status = PathEncoding.withCString(source) { from in
            PathEncoding.withCString(destination) { to in systemRename(from, to) }
        }
        if status != 0 {
            throw FileError(
                path: destination,
                reason: "cannot move the finished file into place: \(String(cString: strerror(errno)))")
        }
    }

    /// Flushes a file's (or a folder's) contents to the disk.
    public static func synchronize(_ path: String) {
        let descriptor = PathEncoding.withCString(path) { open($0, O_RDONLY) }
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Seconds since the file was last modified, or nil.
    public static func age(of path: String) -> Double? {
        var info = stat()
        guard PathEncoding.withCString(path, { stat($0, &info) }) == 0 else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec - info.st_mtim.tv_sec)
    }
}

private func systemRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 {
    #if canImport(Glibc)
    return Glibc.rename(from, to)
    #else
    return Darwin.rename(from, to)
    #endif
}
