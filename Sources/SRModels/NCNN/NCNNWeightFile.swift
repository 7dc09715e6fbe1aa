import Foundation

/// Reads the weights of an ncnn `.bin` file in the order the layers ask for them.
///
/// Two kinds of read, as ncnn's `ModelBinFromDataReader`:
/// - `tagged`: a 4-byte tag first. 0x01306B47: float16 values (padded to 4 bytes); all zero or 0x0002C056:
///   float32 values; other non-zero tags: a 256-entry float32 table and one byte index per value (padded to
///   4 bytes). 0x000D4B38 (int8 weights) is refused: those models need ncnn's quantised kernels.
/// - `raw`: float32 values with no tag (biases, PReLU slopes, MemoryData).
struct NCNNWeightFile {
    private let data: Data
    private(set) var offset = 0

    init(data: Data) { self.data = data }

    var remaining: Int { data.count - offset }

    private mutating func bytes(_ count: Int) throws -> Data {
        guard count >= 0, count <= remaining else {
            throw ModelError("the .bin file ends early: \(count) more bytes needed at offset \(offset)")
        }
        defer { offset += count }
        return data.subdata(in: (data.startIndex + offset)..<(data.startIndex + offset + count))
    }

    private static func padded(_ bytes: Int) -> Int { (bytes + 3) / 4 * 4 }

    /// `count` float32 values with no tag.
    mutating func raw(count: Int) throws -> [Float] {
        let chunk = try bytes(count * 4)
        return chunk.withUnsafeBytes { raw in
            (0..<count).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    /// `count` values behind a type tag (convolution weights).
    mutating func tagged(count: Int) throws -> [Float] {
        let tagBytes = try bytes(4)
        let tag = tagBytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        switch tag {
        case 0x0130_6B47:
            let chunk = try bytes(Self.padded(count * 2))
            return chunk.withUnsafeBytes { raw in
                (0..<count).map {
                    Float(
                        Float16(
                            bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))
                        ))
                }
            }
        case 0x000D_4B38:
            throw ModelError("int8-quantised ncnn weights are not supported; use the float16 or float32 model")
        case 0, 0x0002_C056:
            return try raw(count: count)
        default:
            let table = try raw(count: 256)
            let indices = try bytes(Self.padded(count))
            return indices.prefix(count).map { table[Int($0)] }
        }
    }
}
