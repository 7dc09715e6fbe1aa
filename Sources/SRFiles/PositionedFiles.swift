#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file read at any offset, for formats whose structure points into the file (TIFF).
public final class PositionedReader {
    public let path: String
    /// The file's size in bytes when it was opened.
    public let size: Int
    private let descriptor: Int32

    /// Opens an existing regular file.
    /// - Throws: `FileError` naming the file when it is missing, not a regular file or unreadable.
    public init(path: String) throws {
        self.path = path
        try FileSystem.requireRegularFile(path)
        // O_NONBLOCK: if the path was swapped for a FIFO since the check, opening must not hang.
        descriptor = PathEncoding.withCString(path) { open($0, O_RDONLY | O_NONBLOCK) }
        guard descriptor >= 0 else {
            throw FileError(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw FileError(path: path, reason: "is not a regular file")
        }
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only where the file ends.
    /// - Returns: the bytes read.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count && offset + done < size {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw FileError(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Exactly `count` bytes at `offset`.
    /// - Throws: `FileError` when the file ends first.
    public func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw FileError(path: path, reason: "is cut short: \(count) bytes at offset \(offset) lie past its end")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        let read = try bytes.withUnsafeMutableBytes { try self.read(at: offset, into: $0) }
        guard read == count else { throw FileError(path: path, reason: "is cut short at offset \(offset + read)") }
        return bytes
    }
}

/// A new file written front to back, whose earlier bytes may be patched (a header that points to data
/// written after it).
public final class PositionedWriter {
    public let path: String
    /// Bytes written so far: the offset the next `append` writes at.
    public private(set) var length = 0
    private var descriptor: Int32

    /// Creates `path`, which must not exist.
    public init(creating path: String) throws {
        self.path = path
        descriptor = PathEncoding.withCString(path) { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
        guard descriptor >= 0 else {
            throw FileError(path: path, reason: "cannot create: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close() }

    /// Writes `bytes` at the end of the file.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, at: length)
        length += bytes.count
    }

    public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    /// Overwrites bytes already written (`offset + bytes.count` must not pass `length`).
    public func patch(_ bytes: [UInt8], at offset: Int) throws {
        precondition(offset >= 0 && offset + bytes.count <= length, "patch outside the written bytes")
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Closes the file (further writes fail).
    public func close() {
        #if canImport(Glibc)
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        #else
        if descriptor >= 0 { _ = Darwin.close(descriptor) }
        #endif
        descriptor = -1
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw FileError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            done += count
        }
    }
}
