import Foundation
import SRFiles

/// A failure reading or writing a weight file: one line naming the file.
public typealias WeightFileError = FileError

/// The safetensors weight format (the ecosystem's pickle-free standard):
/// an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` plus an optional `"__metadata__"` map of
/// strings, then the raw little-endian data. F32, F16 and BF16 are read (as Float); F32 or F16 written.
public struct SafeTensors: Sendable {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Storage type on disk.
    public enum DataType: String, Sendable { case f32 = "F32", f16 = "F16", bf16 = "BF16" }

    // MARK: Reading

    /// Reads a file.
    /// - Throws: `WeightFileError` for a missing, truncated or malformed file.
    public static func read(path: String) throws -> SafeTensors {
        let bytes = try FileSystem.readFile(path)
        do {
            return try decode(bytes)
        } catch let problem as FormatProblem {
            throw WeightFileError(path: path, reason: "not a valid safetensors file: \(problem.text)")
        }
    }

    /// Parses safetensors bytes. Throws a `FormatProblem` describing the problem.
    static func decode(_ bytes: [UInt8]) throws -> SafeTensors {
        guard bytes.count >= 8 else { throw FormatProblem("shorter than its 8-byte header length") }
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        guard headerLength > 1, headerLength <= 100_000_000, 8 + headerLength <= bytes.count else {
            throw FormatProblem("header length \(headerLength) does not fit a \(bytes.count)-byte file")
        }
        let header = Data(bytes[8..<(8 + headerLength)])
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw FormatProblem("header is not a JSON object")
        }
        let base = 8 + headerLength
        let dataLength = bytes.count - base
        var result = SafeTensors()
        var spans: [(Int, Int)] = []
        for (name, value) in json {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw FormatProblem("__metadata__ is not an object") }
                for (key, item) in map {
                    guard let text = item as? String else {
                        throw FormatProblem("__metadata__[\(key)] is not a string")
                    }
                    result.metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                offsets.count == 2
            else { throw FormatProblem("entry \(name) lacks dtype, shape or data_offsets") }
            guard let dtype = DataType(rawValue: dtypeName) else {
                throw FormatProblem("tensor \(name) has unsupported dtype \(dtypeName)")
            }
            guard shape.allSatisfy({ $0 >= 0 }),
                shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue }) < (1 << 34)
            else {
                throw FormatProblem("tensor \(name) has an invalid shape \(shape)")
            }
            let count = shape.reduce(1, *)
            let width = dtype == .f32 ? 4 : 2
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= dataLength, end - begin == count * width else {
                throw FormatProblem(
                    "tensor \(name) has data_offsets [\(begin), \(end)] that do not match its shape \(shape) or "
                        + "the file size"
                )
            }
            spans.append((begin, end))
            var scalars = [Float](repeating: 0, count: count)
            bytes.withUnsafeBufferPointer { raw in
                let p = raw.baseAddress! + base + begin
                for i in 0..<count {
                    switch dtype {
                    case .f32:
                        let bits =
                            UInt32(p[4 * i]) | UInt32(p[4 * i + 1]) << 8 | UInt32(p[4 * i + 2]) << 16 | UInt32(
                                p[4 * i + 3]) << 24
                        scalars[i] = Float(bitPattern: bits)
                    case .f16:
                        let bits = UInt16(p[2 * i]) | UInt16(p[2 * i + 1]) << 8
                        scalars[i] = Float(Float16(bitPattern: bits))
                    case .bf16:
                        let bits = UInt32(p[2 * i]) << 16 | UInt32(p[2 * i + 1]) << 24
                        scalars[i] = Float(bitPattern: bits)
                    }
                }
            }
            result.tensors[name] = Tensor(shape: shape, scalars: scalars)
        }
        spans.sort { $0.0 < $1.0 }
        var cursor = 0
        for (begin, end) in spans {
            guard begin == cursor else { throw FormatProblem("tensor data overlaps or leaves gaps") }
            cursor = end
        }
        guard cursor == dataLength else {
            throw FormatProblem("\(dataLength - cursor) bytes of data belong to no tensor")
        }
        return result
    }

    // MARK: Writing

    /// Encodes to bytes. Tensors are stored in name order; the header is padded with spaces to a multiple of 8.
    public func encoded(dataType: DataType = .f32) -> Data {
        let names = tensors.keys.sorted()
        let width = dataType == .f32 ? 4 : 2
        var entries: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            let size = tensor.count * width
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\(jsonString(name)):{\"dtype\":\"\(dataType.rawValue)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        var length = UInt64(header.count)
        for _ in 0..<8 {
            out.append(UInt8(length & 0xFF))
            length >>= 8
        }
        out += header
        for name in names {
            for value in tensors[name]!.scalars {
                if dataType == .f32 {
                    let bits = value.bitPattern
                    out += [
                        UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24),
                    ]
                } else {
                    let bits = Float16(value).bitPattern
                    out += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
                }
            }
        }
        return Data(out)
    }

    /// Writes atomically: a temporary file in the same folder, flushed to the disk, then renamed.
    public func write(path: String, dataType: DataType = .f32) throws {
        let temporary = TemporaryFiles.create(for: path)
        do {
            try encoded(dataType: dataType).withUnsafeBytes { try FileSystem.writeNewFile(temporary, bytes: $0) }
        } catch {
            TemporaryFiles.discard(temporary)
            throw error
        }
        try TemporaryFiles.commit(temporary, to: path)
    }
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

struct FormatProblem: Error {
    let text: String
    init(_ text: String) { self.text = text }
}
