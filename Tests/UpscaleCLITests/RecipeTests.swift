import Foundation
import SRImage
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
}
