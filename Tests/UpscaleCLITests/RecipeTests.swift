import Foundation
import SRImage
import SRTensor
import SRTraining
import XCTest

/// The shell recipes in `weights/recipes/` run the shipped binary the way the model card says.
final class RecipeTests: BinaryTestCase {
    private func pixels(_ path: String) throws -> [Float] {
        try ImageFile.read(path).image.quantized(bits: 8).pixels
    }

    /// `make_distillation_pairs.sh DATA OUT TEACHER 1` writes, for every image (subfolders flattened into the
    /// name), a clean pair (the MATLAB-bicubic input, the image itself) and a realistic pair (a degradation
    /// with its own seed, the teacher's output for it) that `train --inputs` accepts; a second run adds nothing.
    func testDistillationPairsAreTheTeachersOutputsForTheDegradedInputs() throws {
        let data = folder + "/data", out = folder + "/pairs"
        try FileManager.default.createDirectory(atPath: data + "/sub", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sample("bird-lr.png"), toPath: data + "/bird.png")
        try FileManager.default.copyItem(atPath: sample("bird-lr.png"), toPath: data + "/sub/bird.png")
        let script = Self.repository + "/weights/recipes/make_distillation_pairs.sh"
        let arguments = [script, data, out, model, "1", "1"]
        let first = try run(arguments, environment: ["UPSCALE": Self.binary], executable: "/bin/bash")
        XCTAssertEqual(first.status, 0, first.error)
        XCTAssertTrue(first.output.contains("pass 0 written: 4 pairs"), first.output)

        let names = ["bird-clean.png", "bird-r0.png", "sub-bird-clean.png", "sub-bird-r0.png"]
        for folderName in ["lr", "hr"] {
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/" + folderName).sorted(), names)
        }
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: out + "/hr/bird-clean.png")),
            try Data(contentsOf: URL(fileURLWithPath: data + "/bird.png")))
        let bicubic = folder + "/bicubic.png"
        XCTAssertEqual(
            try run(["degrade", data + "/bird.png", bicubic, "--scale", "4", "--degradation", "bicubic"]).status, 0)
        XCTAssertEqual(try pixels(out + "/lr/bird-clean.png"), try pixels(bicubic))
        // Realistic inputs differ between images (their own seeds); each target is the teacher's output.
        XCTAssertNotEqual(try pixels(out + "/lr/bird-r0.png"), try pixels(out + "/lr/sub-bird-r0.png"))
        for name in ["bird-r0.png", "sub-bird-r0.png"] {
            let teacher = folder + "/teacher-" + name
            XCTAssertEqual(try run([out + "/lr/" + name, teacher, "--model", model, "--quiet"]).status, 0)
            XCTAssertEqual(try pixels(out + "/hr/" + name), try pixels(teacher), name)
        }
        let dataset = try PatchDataset(folder: out + "/hr", inputFolder: out + "/lr", patchSize: 16, scale: 4)
        XCTAssertEqual(dataset.inputNames?.count, 4)

        let again = try run(arguments, environment: ["UPSCALE": Self.binary], executable: "/bin/bash")
        XCTAssertEqual(again.status, 0, again.error)
        XCTAssertTrue(again.output.contains("pass 0 written: 4 pairs"), again.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/stage-0"))
    }

    /// `blend_with_partner.sh RUN DATA OUT ALPHA FAITHFUL` exports the run's EMA, fine-tunes its partner with
    /// L1 alone from it, and writes ALPHA · EMA + (1 − ALPHA) · partner naming FAITHFUL for `--detail`.
    func testBlendWithPartnerWeighsTheEMAAgainstItsOwnL1FineTune() throws {
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for name in ["bird-lr.png", "gray.png"] {
            try FileManager.default.copyItem(atPath: sample(name), toPath: data + "/" + name)
        }
        let gan = folder + "/gan-run"
        let trained = try run([
            "train", "--stage", "gan", "--init", model, "--data", data, "--output", gan, "--steps", "2",
            "--patch-size", "32", "--batch-size", "1", "--validate-every", "100000",
        ])
        XCTAssertEqual(trained.status, 0, trained.error)
        try FileManager.default.copyItem(atPath: model, toPath: folder + "/faithful-x4.safetensors")
        let out = folder + "/blend.safetensors"
        let script = Self.repository + "/weights/recipes/blend_with_partner.sh"
        let blended = try run(
            [script, gan, data, out, "0.6", "faithful-x4.safetensors"],
            environment: [
                "UPSCALE": Self.binary, "PARTNER_STEPS": "3", "PARTNER_PATCH": "32", "PARTNER_BATCH": "2",
                "LAYER_ALPHAS": "body.0=1 conv_first=0",
            ],
            executable: "/bin/bash")
        XCTAssertEqual(blended.status, 0, blended.error)

        let stem = folder + "/blend"
        let ema = try SafeTensors.read(path: stem + "-ema.safetensors")
        let partner = try SafeTensors.read(path: stem + "-partner.safetensors")
        let blend = try SafeTensors.read(path: out)
        let partnerState = try String(contentsOfFile: stem + "-partner-run/checkpoint/state.json", encoding: .utf8)
        XCTAssertTrue(partnerState.contains("\"step\" : 3"), "the partner trained its 3 steps")
        XCTAssertTrue(partnerState.contains("\"psnr\""), "the partner is an L1 (psnr-stage) fine-tune")
        XCTAssertEqual(blend.metadata["faithful"], "faithful-x4.safetensors")
        var changed = 0
        for (name, value) in blend.tensors {
            let (a, b) = (try XCTUnwrap(ema.tensors[name]), try XCTUnwrap(partner.tensors[name]))
            if a.scalars != b.scalars { changed += 1 }
            // LAYER_ALPHAS: body.0 is the EMA's, conv_first the partner's, the rest ALPHA's blend.
            let share: Float = name.hasPrefix("body.0.") ? 1 : name.hasPrefix("conv_first.") ? 0 : 0.6
            for i in value.scalars.indices {
                XCTAssertEqual(
                    value.scalars[i], share * a.scalars[i] + (1 - share) * b.scalars[i], accuracy: 1e-6, name)
            }
        }
        XCTAssertGreaterThan(changed, 0, "the partner moved away from the EMA")
        // `--detail 0` reaches the named faithful model beside the blend.
        let detail = try run([sample("bird-lr.png"), folder + "/d0.png", "--model", out, "--detail", "0", "--quiet"])
        XCTAssertEqual(detail.status, 0, detail.error)
        let faithful = try run([
            sample("bird-lr.png"), folder + "/f.png", "--model", folder + "/faithful-x4.safetensors", "--quiet",
        ])
        XCTAssertEqual(faithful.status, 0, faithful.error)
        XCTAssertEqual(try pixels(folder + "/d0.png"), try pixels(folder + "/f.png"))
    }

    /// Bad arguments to `blend_with_partner.sh` are refused in one line before anything is written or trained.
    func testBlendWithPartnerRefusesBadArgumentsUpFront() throws {
        let data = folder + "/data", gan = folder + "/gan-run"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sample("bird-lr.png"), toPath: data + "/bird.png")
        let trained = try run([
            "train", "--stage", "gan", "--init", model, "--data", data, "--output", gan, "--steps", "1",
            "--patch-size", "32", "--batch-size", "1", "--validate-every", "100000",
        ])
        XCTAssertEqual(trained.status, 0, trained.error)
        let script = Self.repository + "/weights/recipes/blend_with_partner.sh"
        let out = folder + "/out/blend.safetensors"
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        let cases: [([String], String, String)] = [
            ([gan, data, out, "1.5"], "ALPHA must be between 0 and 1", ""),
            ([gan, data, out], "LAYER_ALPHAS takes LAYER=ALPHA pairs", "body.0=0 conv_up"),
            ([gan, data, out], "LAYER_ALPHAS takes LAYER=ALPHA pairs", "body.0=2"),
            ([gan, data, out, "abc"], "ALPHA must be between 0 and 1", ""),
            ([folder + "/nothing", data, out], "no training checkpoint here", ""),
            ([gan, folder + "/none", out], "training folder does not exist", ""),
            ([gan, data, folder + "/out/blend.bin"], "must be a .safetensors file", ""),
            ([gan, data, folder + "/missing/blend.safetensors"], "output folder", ""),
            ([gan, data, out, "0.7", "../x.safetensors"], "FAITHFUL must be a file name", ""),
        ]
        for (arguments, message, layers) in cases {
            let result = try run(
                [script] + arguments, environment: ["UPSCALE": Self.binary, "LAYER_ALPHAS": layers],
                executable: "/bin/bash")
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.error.hasPrefix("error: ") && result.error.contains(message), result.error)
            XCTAssertEqual(result.error.split(separator: "\n").count, 1, result.error)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder + "/out"), [], "\(arguments)")
        }
    }
}
