import Foundation
import SRModels
import SRNN
import SRTensor
import SRTestSupport
import XCTest

/// The ncnn interpreter, checked against an independent float64 numpy forward of a tiny graph that uses every
/// supported layer type and weight encoding (Fixtures/make_ncnn_fixture.py), and its refusals.
final class NCNNModelTests: XCTestCase {
    func fixture(_ name: String, _ ext: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: ext)).path
    }

    func testEveryLayerTypeMatchesNumpy() throws {
        let model = try ModelFile.load(path: try fixture("tiny_ncnn_x4", "param"))
        XCTAssertTrue(model is NCNNModel)
        XCTAssertEqual(model.scale, 4)
        // Three 3×3 convolutions at input resolution, bilinear ×2 (one source pixel), a 3×3 convolution at ×2.
        XCTAssertEqual(model.receptiveRadius, 4.5)
        XCTAssertEqual(model.exactOverlap, 5)
        // Mean 3; convolutions 108+4, 144+4, 144+4, 32+4, 432+12; PReLU 4 and 12.
        XCTAssertEqual(model.parameterCount, 907)
        let io = try SafeTensors.read(path: try fixture("tiny_ncnn_x4_io", "safetensors"))
        let input = try XCTUnwrap(io.tensors["input"]), expected = try XCTUnwrap(io.tensors["expected"])
        XCTAssertEqual(model.inference(input).shape, expected.shape)
        XCTAssertLessThanOrEqual(model.inference(input).maxAbsDifference(expected), 1e-4)
        let interpreter = try XCTUnwrap(model as? NCNNModel).interpret(input)
        XCTAssertLessThanOrEqual(interpreter.maxAbsDifference(expected), 1e-4, "the reference interpreter itself")
        // A .bin path finds its .param; a batch of two runs each image alike.
        let byBin = try ModelFile.load(path: try fixture("tiny_ncnn_x4", "bin"))
        let batch = Tensor(shape: [2, 3, 7, 6], scalars: input.scalars + input.scalars)
        let twice = byBin.inference(batch)
        XCTAssertEqual(Array(twice.scalars[expected.count...]), Array(twice.scalars[..<expected.count]))
    }

    /// The oneDNN plan (blocked layouts, fused post-ops, buffers reused) computes what the interpreter does,
    /// at odd sizes and tile-like ones.
    func testOneDNNPlanMatchesTheInterpreter() throws {
        let model = try XCTUnwrap(try ModelFile.load(path: try fixture("tiny_ncnn_x4", "param")) as? NCNNModel)
        guard model.usesOneDNN else { throw XCTSkip("oneDNN is not available here") }
        XCTAssertTrue(model.inferencePath.hasPrefix("oneDNN plan"), model.inferencePath)
        for (seed, (height, width)) in [(7, 6), (16, 20), (33, 17), (1, 1)].enumerated() {
            var random = SeededGenerator(seed: UInt64(seed))
            let input = Tensor.randomUniform(shape: [1, 3, height, width], generator: &random)
            let reference = model.interpret(input)
            let planned = model.inference(input)
            XCTAssertEqual(planned.shape, reference.shape)
            assertClose(planned, to: reference, relative: 2e-5, "\(height)×\(width)")
            XCTAssertEqual(model.inference(input), planned, "a plan gives the same result when reused")
        }
    }

    /// SRVGGNetCompact and RRDBNet ×4 and ×2 from PyTorch state dicts run as ncnn graphs on the same plans: each
    /// graph builds (no silent fallback) and matches the independent numpy forwards of their fixtures.
    func testForeignFamiliesRunAsGraphs() throws {
        let srvgg = try XCTUnwrap(
            try ModelFile.load(path: try fixture("tiny_srvgg_x4", "safetensors")) as? SRVGGNetCompact)
        let rrdb = try XCTUnwrap(try ModelFile.load(path: try fixture("tiny_rrdb_x4", "safetensors")) as? RRDBNet)
        let rrdbX2 = try XCTUnwrap(try ModelFile.load(path: try fixture("tiny_rrdb_x2", "safetensors")) as? RRDBNet)
        let srvggIO = try SafeTensors.read(path: try fixture("tiny_srvgg_x4_io", "safetensors")).tensors
        let rrdbIO = try SafeTensors.read(path: try fixture("tiny_rrdb_io", "safetensors")).tensors
        // RRDBNet ×2's graph takes the pixel-unshuffled input (12 channels at half resolution).
        let packedX2 = PixelShuffle.unshuffle(try XCTUnwrap(rrdbIO["x2/input"]), factor: 2)
        for (graph, input, expected) in [
            (try srvgg.graph(), srvggIO["input"], srvggIO["expected"]),
            (try rrdb.graph(), rrdbIO["x4/input"], rrdbIO["x4/expected"]),
            (try rrdbX2.graph(), packedX2, rrdbIO["x2/expected"]),
        ] {
            let x = try XCTUnwrap(input), y = try XCTUnwrap(expected)
            XCTAssertLessThanOrEqual(graph.inference(x).maxAbsDifference(y), 1e-4)
            XCTAssertLessThanOrEqual(graph.interpret(x).maxAbsDifference(y), 1e-4)
        }
        // The radius the graph derives equals the one each family states.
        XCTAssertEqual(try srvgg.graph().receptiveRadius, srvgg.receptiveRadius)
        XCTAssertEqual(try rrdb.graph().receptiveRadius, rrdb.receptiveRadius)
    }

    /// Graphs of 8k channels keep their maps in nChw8c, where 3×3 convolutions run by Winograd (with a
    /// fused LeakyReLU in RRDBNet's dense blocks, PReLU after it in SRVGGNetCompact, dense concatenations
    /// in between, nearest upsampling on the blocks): the plan still computes what the interpreter does.
    func testWinogradPlansMatchTheInterpreter() throws {
        let srvgg = SRVGGNetCompact(features: 16, convolutions: 2, scale: 4)
        let rrdb = RRDBNet(features: 8, growth: 8, blocks: 1, scale: 4)
        // 12 features: nChw8c maps with padded channels (nearest upsampling there copies whole blocks).
        let padded = RRDBNet(features: 12, growth: 4, blocks: 1, scale: 4)
        var random = SeededGenerator(seed: 7)
        for network in [srvgg.namedParameters, rrdb.namedParameters, padded.namedParameters] {
            for (_, parameter) in network {
                parameter.value = Tensor.randomNormal(
                    shape: parameter.value.shape, standardDeviation: 0.2, generator: &random)
            }
        }
        for graph in [try srvgg.graph(), try rrdb.graph(), try padded.graph()] {
            guard graph.usesOneDNN else { throw XCTSkip("oneDNN is not available here") }
            for (height, width) in [(13, 9), (20, 20)] {
                let input = Tensor.randomUniform(shape: [1, 3, height, width], generator: &random)
                let reference = graph.interpret(input)
                assertClose(graph.inference(input), to: reference, relative: 2e-5, "\(height)×\(width)")
            }
        }
    }

    /// RRDBNet's 2× and 4× stages (a chain from the trunk's sum) run on overlapping row bands of the sum:
    /// inputs taller than one band window give what the interpreter gives on the whole input, with the band
    /// window moved inside the image at both edges, and the memory counted for a band, not the tile.
    func testRRDBNetTailRunsInRowBands() throws {
        var random = SeededGenerator(seed: 11)
        for scale in [4, 2] {
            let rrdb = RRDBNet(features: 8, growth: 8, blocks: 1, scale: scale)
            for (_, parameter) in rrdb.namedParameters {
                parameter.value = Tensor.randomNormal(
                    shape: parameter.value.shape, standardDeviation: 0.2, generator: &random)
            }
            let graph = try rrdb.graph()
            guard graph.usesOneDNN else { throw XCTSkip("oneDNN is not available here") }
            let tail = try XCTUnwrap(graph.tail, "×\(scale)")
            // conv_up1 at 2× and three convolutions at 4× of the graph's input: 1.25 input rows.
            XCTAssertEqual(tail.halo, 2)
            XCTAssertEqual(graph.bandWindow, NCNNModel.bandRows + 4)
            let channels = 3 * (4 / scale) * (4 / scale)
            for (height, width) in [(graph.bandWindow + 1, 9), (70, 5), (97, 12)] {
                let input = Tensor.randomUniform(shape: [1, channels, height, width], generator: &random)
                let reference = graph.interpret(input)
                let banded = graph.inference(input)
                XCTAssertEqual(banded.shape, reference.shape)
                assertClose(banded, to: reference, relative: 2e-5, "×\(scale) \(height)×\(width)")
            }
            let whole = try XCTUnwrap(graph.workingSetFloats(height: graph.bandWindow, width: 196))
            let tall = try XCTUnwrap(graph.workingSetFloats(height: 196, width: 196))
            XCTAssertLessThan(tall, whole * 196 / Double(graph.bandWindow) / 2, "the 4× maps are counted per band")
        }
    }

    /// Converted to safetensors (the .param text in the metadata), the graph gives the same output.
    func testConvertedGraphRunsAlike() throws {
        let model = try XCTUnwrap(try ModelFile.load(path: try fixture("tiny_ncnn_x4", "param")) as? NCNNModel)
        let path = NSTemporaryDirectory() + "ncnn-\(UUID().uuidString).safetensors"
        defer { unlink(path) }
        try SafeTensors(tensors: model.stateDictionary(), metadata: model.metadata).write(path: path)
        let again = try ModelFile.load(path: path)
        let input = try XCTUnwrap(
            try SafeTensors.read(path: try fixture("tiny_ncnn_x4_io", "safetensors")).tensors["input"])
        XCTAssertEqual(again.inference(input), model.inference(input))
    }

    /// Graphs and weight files the interpreter cannot run are refused at load time with the file and the reason.
    func testRefusesWhatItCannotRun() throws {
        let folder = NSTemporaryDirectory() + "ncnn-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let header = "7767517\n3 3\nInput in 0 1 data 0=8 1=8 2=3\n"
        /// A 3→12 3×3 convolution (float32 weights, no bias), then `last`.
        let convolution = "Convolution c 1 1 data x 0=12 1=3 4=1 5=0 6=324\n"
        let weights = Data(count: 4) + Data(count: 324 * 4)
        func refusal(_ param: String, _ bin: Data?, _ name: String) throws -> String {
            let stem = folder + "/" + name
            try param.write(toFile: stem + ".param", atomically: true, encoding: .utf8)
            if let bin { try bin.write(to: URL(fileURLWithPath: stem + ".bin")) }
            do {
                _ = try ModelFile.load(path: stem + ".param")
                XCTFail("\(name) was accepted")
                return ""
            } catch {
                XCTAssertTrue("\(error)".contains(name), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
                return "\(error)"
            }
        }
        let good = header + convolution + "PixelShuffle p 1 1 x output 0=2\n"
        XCTAssertNoThrow(
            try ModelFile.load(
                path: {
                    try good.write(toFile: folder + "/good.param", atomically: true, encoding: .utf8);
                    try weights.write(to: URL(fileURLWithPath: folder + "/good.bin")); return folder + "/good.param"
                }()))
        XCTAssertTrue(try refusal(good, nil, "nobin").contains("no such .bin"))
        XCTAssertTrue(try refusal(good, weights.prefix(100), "short").contains("ends early"))
        XCTAssertTrue(try refusal(good, weights + Data(count: 8), "long").contains("left over"))
        XCTAssertTrue(try refusal(good, Data([0x38, 0x4B, 0x0D, 0]) + Data(count: 324), "int8").contains("int8"))
        XCTAssertTrue(try refusal("7767517\n1 1\n", Data(), "empty").contains("announces 1 layers"))
        XCTAssertTrue(try refusal("hello\n", Data(), "magic").contains("magic"))
        XCTAssertTrue(
            try refusal(header + convolution + "Softmax s 1 1 x output\n", weights, "softmax").contains("Softmax"))
        XCTAssertTrue(
            try refusal(
                header + convolution.replacingOccurrences(of: "6=324", with: "6=300")
                    + "PixelShuffle p 1 1 x output 0=2\n", weights, "count"
            )
            .contains("holds 300 weights"))
        XCTAssertTrue(
            try refusal(
                header + convolution.replacingOccurrences(of: "4=1", with: "4=0") + "PixelShuffle p 1 1 x output 0=2\n",
                weights, "padding"
            )
            .contains("same"))
        XCTAssertTrue(
            try refusal(header + convolution + "PixelShuffle p 1 1 y output 0=2\n", weights, "wiring").contains("'y'"))
        XCTAssertTrue(
            try refusal(header + convolution + "PixelShuffle p 1 1 x output 0=4\n", weights, "shuffle").contains(
                "cannot shuffle"))
        XCTAssertTrue(
            try refusal(header + convolution + "Interp i 1 1 x output 0=2 1=1.5 2=1.5\n", weights, "interp").contains(
                "integer factor"))
        XCTAssertTrue(
            try refusal(
                header + convolution
                    + "Interp i 1 1 x y 0=1 1=2.0 2=2.0\n".replacingOccurrences(of: "y", with: "output"), weights,
                "channels"
            ).contains("3-channel"))
    }
}
