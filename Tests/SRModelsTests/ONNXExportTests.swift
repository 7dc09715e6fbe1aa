import Foundation
import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// The ONNX writer's protobuf, read back by a minimal decoder: the node sequence each family needs and
/// initialisers holding the weights bit for bit. (That ONNX Runtime runs the files within 1/255 of
/// `upscale` is checked by `make bench-peers`, which installs it.)
final class ONNXExportTests: XCTestCase {
    /// Field number → values (varints as Int, length-delimited as Data) of one message.
    func decode(_ data: Data) -> [Int: [Any]] {
        var fields: [Int: [Any]] = [:]
        let bytes = [UInt8](data)
        var i = 0
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let b = bytes[i]
                i += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return value }
                shift += 7
            }
        }
        while i < bytes.count {
            let key = varint()
            let (field, wire) = (Int(key >> 3), key & 7)
            switch wire {
            case 0: fields[field, default: []].append(Int(varint()))
            case 2:
                let length = Int(varint())
                fields[field, default: []].append(Data(bytes[i..<(i + length)]))
                i += length
            case 5:
                fields[field, default: []].append(Data(bytes[i..<(i + 4)]))
                i += 4
            default:
                XCTFail("unexpected wire type \(wire)")
                return fields
            }
        }
        return fields
    }

    func graph(_ model: any SuperResolutionModel) throws -> (ops: [String], initializers: [String: Data]) {
        let top = decode(try ONNXExport.encode(model))
        XCTAssertEqual(top[1] as? [Int], [8], "IR version")
        let graph = decode(try XCTUnwrap(top[7]?.first as? Data))
        let ops = (graph[1] ?? []).map { node -> String in
            String(decoding: decode(node as! Data)[4]!.first as! Data, as: UTF8.self)
        }
        var initializers: [String: Data] = [:]
        for item in graph[5] ?? [] {
            let tensor = decode(item as! Data)
            initializers[String(decoding: tensor[8]!.first as! Data, as: UTF8.self)] = tensor[9]?.first as? Data
        }
        XCTAssertEqual(graph[11]?.count, 1)
        XCTAssertEqual(graph[12]?.count, 1)
        return (ops, initializers)
    }

    func floats(_ exported: (ops: [String], initializers: [String: Data]), _ name: String) -> [Float]? {
        exported.initializers[name].map { $0.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
    }

    func testEveryFamilyExportsItsGraphAndWeights() throws {
        var random = SeededGenerator(seed: 3)
        let msr = Generator(config: GeneratorConfig(features: 4, blocks: 1, scale: 4))
        msr.initialize(generator: &random)
        let (ops, initializers) = try graph(msr)
        XCTAssertEqual(
            ops,
            [
                "Conv", "LeakyRelu", "Conv", "Relu", "Conv", "Add", "Conv", "DepthToSpace", "LeakyRelu", "Conv",
                "DepthToSpace", "LeakyRelu", "Conv", "LeakyRelu", "Conv", "Resize", "Add",
            ])
        let weight = msr.stateDictionary()["conv_first.weight"]!
        let raw = try XCTUnwrap(initializers["conv_first.weight"])
        XCTAssertEqual(raw.count, weight.count * 4)
        XCTAssertEqual(raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, weight.scalars)

        let compact = Generator(config: GeneratorConfig(features: 4, blocks: 1, scale: 3, architecture: .compact))
        compact.initialize(generator: &random)
        XCTAssertEqual(
            try graph(compact).ops,
            [
                "Conv", "LeakyRelu", "Conv", "Relu", "Conv", "Add", "Conv", "Add", "Conv", "DepthToSpace", "Resize",
                "Add",
            ])

        // RRDBNet ×2: edge padding to even sides, SpaceToDepth, conv_first with its input channels
        // reordered from pixel_unshuffle's c·4 + k to SpaceToDepth's k·3 + c, and a crop at the end.
        let rrdb = try XCTUnwrap(
            try ModelFile.load(
                path: try XCTUnwrap(
                    Bundle.module.url(forResource: "Fixtures/tiny_rrdb_x2", withExtension: "safetensors")
                ).path) as? RRDBNet)
        let exported = try graph(rrdb)
        let head: [String] = ["Shape", "Slice", "Mod", "Sub", "Mod", "Concat", "Pad", "SpaceToDepth", "Conv"]
        XCTAssertEqual(Array(exported.ops.prefix(9)), head)
        XCTAssertEqual(Array(exported.ops.suffix(4)), ["Conv", "Mul", "Slice", "Identity"])
        let trained = try XCTUnwrap(rrdb.stateDictionary()["conv_first.weight"])
        let reordered: [Float] = try XCTUnwrap(floats(exported, "conv_first.weight"))
        XCTAssertEqual(reordered.count, trained.count)
        for o in [0, trained.shape[0] - 1] {
            for k in 0..<4 {
                for c in 0..<3 {
                    for t in 0..<9 {
                        let packed: Int = (o * 12 + k * 3 + c) * 9 + t
                        let original: Int = (o * 12 + c * 4 + k) * 9 + t
                        XCTAssertEqual(reordered[packed], trained.scalars[original])
                    }
                }
            }
        }

        let srvgg = SRVGGNetCompact(features: 4, convolutions: 1, scale: 2)
        XCTAssertEqual(
            try graph(srvgg).ops, ["Conv", "PRelu", "Conv", "PRelu", "Conv", "DepthToSpace", "Resize", "Add"])
    }
}
