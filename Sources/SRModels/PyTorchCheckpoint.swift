import Foundation
import SRTensor
import ZIPFoundation

/// A PyTorch checkpoint (`torch.save`'s zip: `NAME/data.pkl` plus raw storages in `NAME/data/KEY`) read as a
/// state dict, through `RestrictedUnpickler`: nothing in the file is executed. Real-ESRGAN and BasicSR wrap
/// their weights as {"params_ema": …} or {"params": …}; others as {"state_dict": …}; "module." prefixes
/// (from DataParallel) are stripped. Float32, float16 and bfloat16 storages; any strides.
public enum PyTorchCheckpoint {
    /// Whether the file starts like a zip archive (what `torch.save` writes since PyTorch 1.6).
    public static func looksLikeCheckpoint(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data([0x50, 0x4B, 0x03, 0x04])
    }

    /// The state dict of a checkpoint.
    /// - Throws: `WeightFileError` naming the file for anything it does not understand or refuses.
    public static func stateDictionary(path: String) throws -> [String: Tensor] {
        do {
            let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
            // One pass over the central directory: looking entries up by name walks it each time (hundreds of
            // storages made loading RRDBNet x4plus quadratic).
            let byPath = Dictionary(archive.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
            guard let pickleEntry = archive.first(where: { $0.path.hasSuffix("data.pkl") }) else {
                throw RestrictedUnpickler.Failure(description: "no data.pkl in the archive (not a torch.save file)")
            }
            let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
            var unpickler = RestrictedUnpickler(try read(pickleEntry, from: archive))
            var root = try unpickler.load()
            for key in ["params_ema", "params", "state_dict", "model"] {
                if case .dict(let entries) = root,
                    let inner = entries.first(where: {
                        if case .string(key) = $0.key { return true } else { return false }
                    })
                {
                    root = inner.value
                    break
                }
            }
            guard case .dict(let entries) = root else {
                throw RestrictedUnpickler.Failure(description: "the checkpoint holds no state dict")
            }
            var tensors: [String: Tensor] = [:]
            for (key, value) in entries {
                guard case .string(var name) = key,
                    case .tensor(let storage, let type, let offset, let shape, let strides) = value
                else { continue }  // non-tensor entries (step counters, …)
                if name.hasPrefix("module.") { name.removeFirst("module.".count) }
                guard let entry = byPath[prefix + "data/" + storage] else {
                    throw RestrictedUnpickler.Failure(description: "storage \(storage) is missing")
                }
                tensors[name] = try tensor(
                    from: try read(entry, from: archive), type: type, offset: offset, shape: shape, strides: strides,
                    name: name)
            }
            guard !tensors.isEmpty else {
                throw RestrictedUnpickler.Failure(description: "the state dict holds no tensors")
            }
            return tensors
        } catch let error as WeightFileError {
            throw error
        } catch {
            throw WeightFileError(path: path, reason: "\(error)")
        }
    }

    private static func read(_ entry: Entry, from archive: Archive) throws -> Data {
        guard entry.uncompressedSize < 4_000_000_000 else {
            throw RestrictedUnpickler.Failure(description: "entry \(entry.path) is too large")
        }
        var data = Data()
        _ = try archive.extract(entry) { data.append($0) }
        return data
    }

    /// Gathers a strided view of little-endian storage bytes into a contiguous float tensor.
    private static func tensor(
        from data: Data, type: String, offset: Int, shape: [Int], strides: [Int], name: String
    ) throws -> Tensor {
        let width: Int
        switch type {
        case "FloatStorage": width = 4
        case "HalfStorage", "BFloat16Storage": width = 2
        default: throw RestrictedUnpickler.Failure(description: "\(name): \(type) is not a float storage")
        }
        let elements = data.count / width
        guard shape.count == strides.count, shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 28 }), offset >= 0 else {
            throw RestrictedUnpickler.Failure(description: "\(name): bad tensor geometry")
        }
        let count = shape.reduce(1, *)
        guard count <= 1 << 28 else { throw RestrictedUnpickler.Failure(description: "\(name): too large") }
        // The largest element the view touches must lie inside the storage.
        let reach = offset + zip(shape, strides).reduce(0) { $0 + max($1.0 - 1, 0) * $1.1 }
        guard count == 0 || (strides.allSatisfy { $0 >= 0 } && reach < elements) else {
            throw RestrictedUnpickler.Failure(description: "\(name): view reaches outside its storage")
        }
        let raw = [UInt8](data)
        func element(_ index: Int) -> Float {
            let base = index * width
            switch type {
            case "FloatStorage":
                let bits =
                    UInt32(raw[base]) | UInt32(raw[base + 1]) << 8 | UInt32(raw[base + 2]) << 16
                    | UInt32(raw[base + 3]) << 24
                return Float(bitPattern: bits)
            case "HalfStorage":
                return Float(Float16(bitPattern: UInt16(raw[base]) | UInt16(raw[base + 1]) << 8))
            default:  // bfloat16: the upper half of a float32
                return Float(bitPattern: (UInt32(raw[base]) | UInt32(raw[base + 1]) << 8) << 16)
            }
        }
        var scalars = [Float](repeating: 0, count: count)
        // A contiguous float32 view (what torch.save writes for parameters) is one copy.
        var rowMajor = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { rowMajor[d] = rowMajor[d + 1] * shape[d + 1] }
        if type == "FloatStorage", count > 0, strides == rowMajor || count == 1 {
            raw.withUnsafeBytes { bytes in
                for i in 0..<count {
                    scalars[i] = Float(
                        bitPattern: UInt32(
                            littleEndian: bytes.loadUnaligned(fromByteOffset: (offset + i) * 4, as: UInt32.self)))
                }
            }
            return Tensor(shape: shape, scalars: scalars)
        }
        var index = [Int](repeating: 0, count: shape.count)
        for i in 0..<count {
            var source = offset
            for d in 0..<shape.count { source += index[d] * strides[d] }
            scalars[i] = element(source)
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return Tensor(shape: shape, scalars: scalars)
    }
}
