#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File names are bytes on Linux, and not every name is valid UTF-8. Swift strings are Unicode, so a
/// name with stray bytes would be "repaired" into U+FFFD and then never found. Paths in this program
/// therefore carry each byte that is not part of valid UTF-8 as one private-use scalar
/// (U+10FE80 … U+10FEFF for bytes 0x80 … 0xFF), and turn back into the exact bytes whenever the file
/// system is called. Valid UTF-8 names are unchanged.
public enum PathEncoding {
    static let escapeBase: UInt32 = 0x10FE00

    /// Decodes bytes (a file name or a command-line argument) into a path string, escaping every byte
    /// that is not part of a valid UTF-8 sequence.
    public static func decode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let bytes = Array(bytes)
        if let valid = String(validating: bytes, as: UTF8.self) { return valid }
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0
            if length > 0, index + length <= bytes.count,
                let text = String(validating: bytes[index..<(index + length)], as: UTF8.self),
                text.unicodeScalars.count == 1
            {
                scalars.append(text.unicodeScalars.first!)
                index += length
            } else {
                scalars.append(Unicode.Scalar(escapeBase + UInt32(lead))!)
                index += 1
            }
        }
        return String(scalars)
    }

    /// The exact bytes of a path string made by `decode` (or any ordinary string).
    public static func bytes(_ path: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count)
        for scalar in path.unicodeScalars {
            if scalar.value >= escapeBase + 0x80 && scalar.value <= escapeBase + 0xFF {
                out.append(UInt8(scalar.value - escapeBase))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    /// Calls `body` with the path as a NUL-terminated C string of its exact bytes.
    public static func withCString<Result>(
        _ path: String, _ body: (UnsafePointer<CChar>) throws -> Result
    ) rethrows -> Result {
        var bytes = bytes(path).map { CChar(bitPattern: $0) }
        bytes.append(0)
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// The path for messages: escaped bytes are shown as `\xHH`.
    public static func displayed(_ path: String) -> String {
        var out = ""
        for scalar in path.unicodeScalars {
            if scalar.value >= escapeBase + 0x80 && scalar.value <= escapeBase + 0xFF {
                out += "\\x" + String(scalar.value - escapeBase, radix: 16, uppercase: true)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The process's command-line arguments (without the program name), decoded byte-exactly.
    public static func commandLineArguments() -> [String] {
        (1..<Int(CommandLine.argc)).map { index in
            guard let argument = CommandLine.unsafeArgv[index] else { return "" }
            let length = strlen(argument)
            return argument.withMemoryRebound(to: UInt8.self, capacity: length) {
                decode(UnsafeBufferPointer(start: $0, count: length))
            }
        }
    }
}
