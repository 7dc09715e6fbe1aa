import Foundation
import SRImage
import SRModels
import SRTensor
import XCTest

/// Hostile and careless use of the real binary: every case here once crashed, hung, lost a file or
/// ignored a limit. Each test names the row of the hardening table it covers.
final class HardeningTests: BinaryTestCase {
    var tiny: [String] { ["--model", model, "--threads", "1", "--quiet"] }

    func makeFolder(_ name: String) throws -> String {
        let path = folder + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func copySample(_ name: String, to path: String) throws {
        try FileManager.default.copyItem(atPath: sample(name), toPath: path)
    }

    func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    func listing(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// An image `width` × `height` written band by band.
    /// A patterned PNG; with 4 channels every third pixel is fully transparent.
    func writeImage(_ path: String, width: Int, height: Int, channels: Int = 3) throws {
        let writer = try ImageWriter(path: path, format: .png, width: width, height: height, channels: channels)
        var y = 0
        while y < height {
            let rows = min(64, height - y)
            var band = PlanarImage(width: width, height: rows, channels: channels)
            for i in 0..<band.pixels.count { band.pixels[i] = Float((i * 7919 + y) % 251) / 250 }
            if channels == 4 {
                for i in 0..<(rows * width) { band.pixels[3 * rows * width + i] = i % 3 == 0 ? 0 : 1 }
            }
            try writer.writeRows(band)
            y += rows
        }
        try writer.finish()
    }

    // Row 1: a batch into its own folder with --format must not replace a.png by the upscale of a.jpg.
    func testBatchIntoItsOwnFolderNeverOverwritesAnInput() throws {
        let d = try makeFolder("d")
        try copySample("bird-lr.png", to: d + "/a.png")
        XCTAssertEqual(try run([d + "/a.png", d + "/a.jpg", "--method", "bicubic", "--scale", "1"]).status, 0)
        let before = contents(d + "/a.png")
        let result = try run([d, d, "--format", "png"] + tiny)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.error.contains("would overwrite the input"), result.error)
        XCTAssertEqual(contents(d + "/a.png"), before)
        XCTAssertEqual(listing(d), ["a.jpg", "a.png"])
    }

    // --include and --exclude pick a batch's files; --fail-fast stops at the first failure.
    func testBatchSelectionAndFailFast() throws {
        let d = try makeFolder("photos")
        try FileManager.default.createDirectory(atPath: d + "/scans", withIntermediateDirectories: true)
        for name in ["a.png", "b.PNG", "skip-c.png", "scans/d.png", "scans/e.png"] {
            try copySample("gray.png", to: d + "/" + name)
        }
        try copySample("phone-exif6-icc.jpg", to: d + "/f.JPG")
        func outputs(_ arguments: [String]) throws -> [String] {
            let out = folder + "/out-\(UUID().uuidString)"
            let result = try run([d, out, "--recursive", "--quiet"] + tiny + arguments)
            XCTAssertEqual(result.status, 0, result.error)
            return (FileManager.default.subpaths(atPath: out) ?? []).filter { $0.contains(".") }.sorted()
        }
        // Name patterns ignore case (outputs get lower-case extensions); a pattern with a / matches the path
        // inside the folder.
        XCTAssertEqual(
            try outputs(["--include", "*.png", "--exclude", "skip-*"]),
            ["a.png", "b.png", "scans/d.png", "scans/e.png"])
        XCTAssertEqual(try outputs(["--include", "*.jpg"]), ["f.jpg"])
        XCTAssertEqual(try outputs(["--include", "scans/*", "--exclude", "e.*"]), ["scans/d.png"])
        XCTAssertEqual(
            try outputs(["--include", "*.png", "--include", "*.jpg", "--exclude", "scans/*"]),
            ["a.png", "b.png", "f.jpg", "skip-c.png"])
        // A damaged first file: without --fail-fast the rest is done and the failure listed; with it, nothing
        // more starts.
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: URL(fileURLWithPath: d + "/0-bad.png"))
        let all = try run([d, folder + "/all", "--include", "*.png"] + tiny)
        XCTAssertEqual(all.status, 1)
        XCTAssertTrue(all.error.contains("3 upscaled, 0 skipped, 1 failed"), all.error)
        let stopped = try run([d, folder + "/stopped", "--include", "*.png", "--fail-fast"] + tiny)
        XCTAssertEqual(stopped.status, 1)
        XCTAssertTrue(
            stopped.error.contains("0 upscaled, 0 skipped, 1 failed, 3 not started (--fail-fast)"), stopped.error)
        XCTAssertTrue(stopped.error.contains("0-bad.png"), stopped.error)
        XCTAssertEqual(listing(folder + "/stopped"), [])
        // Patterns are checked before anything is created: an empty one, or one given with a single file.
        let empty = try run([d, folder + "/empty", "--include", ""] + tiny)
        XCTAssertNotEqual(empty.status, 0)
        XCTAssertTrue(empty.error.contains("--include and --exclude need a pattern"), empty.error)
        let single = try run([d + "/a.png", folder + "/single.png", "--exclude", "*.jpg"] + tiny)
        XCTAssertEqual(single.status, 1)
        XCTAssertTrue(single.error.contains("pick files in a folder"), single.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/empty"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/single.png"))
    }

    // Row 2: --suffix cannot lead outside the output folder.
    func testSuffixCannotEscapeTheOutputFolder() throws {
        let source = try makeFolder("src")
        try copySample("bird-lr.png", to: source + "/a.png")
        let before = contents(source + "/a.png")
        let result = try run([source, folder + "/out", "--format", "png", "--suffix=/../../src/a"] + tiny)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.error.contains("--suffix"), result.error)
        XCTAssertEqual(contents(source + "/a.png"), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/out"))
    }

    // Row 3: metadata alone must not make us allocate: bounds, then the tensors present.
    func testHostileModelMetadataIsRefusedBeforeAllocating() throws {
        var file = try SafeTensors.read(path: model)
        let original = file.metadata
        let cases: [(String, String, String)] = [
            ("num_block", "1000000000", "num_block"), ("num_feat", "5000", "num_feat"),
            ("num_feat", "100000", "num_feat"),
            ("first_kernel", "1000001", "kernel"), ("num_feat", "8", "weights but the file holds"),
            ("upscale", "7", "upscale"),
        ]
        for (key, value, expected) in cases {
            file.metadata = original
            file.metadata[key] = value
            let path = folder + "/hostile-\(key)-\(value).safetensors"
            try file.write(path: path)
            for command in [["model", "info", path], [sample("bird-lr.png"), folder + "/o.png", "--model", path]] {
                let result = try run(command, timeout: 30)
                XCTAssertEqual(result.status, 1, "\(key)=\(value): \(result.error)")
                XCTAssertTrue(result.error.contains(expected) && result.error.contains(path), result.error)
                XCTAssertLessThan(result.peakMB, 200, "\(key)=\(value)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/o.png"))
        // A file with non-finite weights is refused (it would write a black image and exit 0).
        file.metadata = original
        let name = file.tensors.keys.sorted()[0]
        var poisoned = file.tensors[name]!
        poisoned.scalars[0] = .nan
        file.tensors[name] = poisoned
        try file.write(path: folder + "/nan.safetensors")
        let result = try run([sample("bird-lr.png"), folder + "/o.png", "--model", folder + "/nan.safetensors"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.contains("NaN"), result.error)
    }

    // Row 4: signals remove the unfinished output, print the batch so far and exit 128 + signal.
    func testSignalsRemoveTheTemporaryAndReportTheBatch() throws {
        let big = folder + "/big.png"
        XCTAssertEqual(try run([sample("bird-lr.png"), big, "--method", "bicubic", "--scale", "8"]).status, 0)
        let outputs = try makeFolder("signal-out")
        let temporaryExists = { !self.leftoverTemporaries(in: outputs).isEmpty }
        for (signal, status) in [(SIGTERM, Int32(143)), (SIGINT, 130), (SIGHUP, 129)] {
            let target = outputs + "/dest.png"
            let result = try runBytes(
                [big, target, "--model", model, "--threads", "1"].map { Array($0.utf8) },
                signal: signal, when: temporaryExists, timeout: 60)
            XCTAssertEqual(result.status, status, result.error)
            XCTAssertTrue(result.error.contains("interrupted"), result.error)
            XCTAssertEqual(listing(outputs), [], "signal \(signal) left files behind")
        }
        // A batch prints its summary so far.
        let batch = try makeFolder("batch")
        for name in ["1.png", "2.png", "3.png"] {
            try FileManager.default.copyItem(atPath: big, toPath: batch + "/" + name)
        }
        let batchOut = folder + "/batch-out"
        let result = try runBytes(
            [batch, batchOut, "--model", model, "--threads", "1"].map { Array($0.utf8) }, signal: SIGTERM,
            when: {
                FileManager.default.fileExists(atPath: batchOut + "/1.png")
                    && !self.leftoverTemporaries(in: batchOut).isEmpty
            },
            timeout: 120)
        XCTAssertEqual(result.status, 143)
        XCTAssertTrue(result.error.contains("1 upscaled, 0 skipped, 0 failed"), result.error)
        XCTAssertEqual(listing(batchOut), ["1.png"])
    }

    // Row 4 (stale temporaries): our own temporaries older than a day are removed; fresh ones stay.
    func testStaleTemporariesAreCleanedUp() throws {
        let outputs = try makeFolder("stale")
        let stale = outputs + "/.old.png.upscale-12345-678.tmp", fresh = outputs + "/.new.png.upscale-12345-679.tmp"
        let other = outputs + "/.mine.tmp"
        for path in [stale, fresh, other] { _ = FileManager.default.createFile(atPath: path, contents: Data([1])) }
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -2 * 86_400)], ofItemAtPath: stale)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -2 * 86_400)], ofItemAtPath: other)
        XCTAssertEqual(try run([sample("bird-lr.png"), outputs + "/o.png"] + tiny).status, 0)
        XCTAssertEqual(listing(outputs), [".mine.tmp", ".new.png.upscale-12345-679.tmp", "o.png"])
    }

    // Row 5: two inputs mapping to one output name are refused before any work.
    func testTwoInputsForOneOutputAreRefusedUpFront() throws {
        let c = try makeFolder("c")
        try copySample("bird-lr.png", to: c + "/a.png")
        XCTAssertEqual(try run([c + "/a.png", c + "/a.jpg", "--method", "bicubic", "--scale", "1"]).status, 0)
        let result = try run([c, folder + "/cout", "--format", "png"] + tiny)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.contains("would both be written to"), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/cout"))
    }

    // Row 6: eval and train --val refuse tiny ground truths and impossible scales cleanly.
    func testEvalRefusesTinyGroundTruthsAndBadScales() throws {
        let t = try makeFolder("t")
        try ImageFile.write(PlanarImage(width: 16, height: 16, channels: 3), to: t + "/small.png")
        let small = try run(["eval", "--data", t, "--scale", "4", "--method", "bicubic"])
        XCTAssertEqual(small.status, 1, small.error)
        XCTAssertTrue(small.error.contains("small.png") && small.error.contains("too small"), small.error)
        for scale in ["0", "-1", "1000"] {
            let result = try run(["eval", "--data", t, "--scale=\(scale)", "--method", "bicubic"])
            XCTAssertTrue(
                result.status == 1 || result.status == 64, "scale \(scale): status \(result.status) \(result.error)")
        }
        let data = try makeFolder("data")
        try copySample("bird-lr.png", to: data + "/a.png")
        let train = try run([
            "train", "--data", data, "--val", t, "--output", folder + "/run", "--features", "4", "--blocks", "1",
            "--steps", "2", "--batch-size", "1", "--patch-size", "32",
        ])
        XCTAssertEqual(train.status, 1, train.error)
        XCTAssertTrue(train.error.contains("too small"), train.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/run/checkpoint"))
    }

    // Row 7: --val is checked before training starts.
    func testTrainChecksTheValidationFolderBeforeTraining() throws {
        let data = try makeFolder("data")
        try copySample("bird-lr.png", to: data + "/a.png")
        let result = try run([
            "train", "--data", data, "--val", folder + "/missing", "--output", folder + "/run", "--features", "4",
            "--blocks", "1", "--steps", "6", "--batch-size", "2", "--patch-size", "32", "--checkpoint-every", "4",
        ])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.contains("missing"), result.error)
        XCTAssertFalse(result.output.contains("step 4"), "trained before checking --val")
    }

    // Validation outputs are saved per step for judging a run by eye; --no-validation-images turns that off.
    // Both, and --val itself, can be given on resume.
    func testTrainSavesValidationOutputsUnlessToldNot() throws {
        let data = try makeFolder("data")
        try copySample("bird-lr.png", to: data + "/a.png")
        let val = try makeFolder("val")
        try copySample("bird-lr.png", to: val + "/bird.png")
        let runFolder = folder + "/run"
        let first = try run([
            "train", "--data", data, "--output", runFolder, "--features", "4", "--blocks", "1",
            "--steps", "1", "--batch-size", "1", "--patch-size", "32", "--validate-every", "1",
        ])
        XCTAssertEqual(first.status, 0, first.error)
        XCTAssertFalse(first.output.contains("validation"), first.output)
        let validated = try run(["train", "--resume", runFolder, "--steps", "2", "--val", val])
        XCTAssertEqual(validated.status, 0, validated.error)
        XCTAssertTrue(validated.output.contains("outputs in \(runFolder)/validation/step-000002"), validated.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: runFolder + "/validation/step-000002/bird.png"))
        let resumed = try run(["train", "--resume", runFolder, "--steps", "3", "--no-validation-images"])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.output.contains("step 3  validation (EMA weights) PSNR"), resumed.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runFolder + "/validation/step-000003"))
    }

    // Row 8: FIFOs (and other special files) are refused, never waited on.
    func testSpecialFilesAreRefusedInsteadOfBlocking() throws {
        let batch = try makeFolder("fifo")
        try copySample("bird-lr.png", to: batch + "/a.png")
        XCTAssertEqual(mkfifo(batch + "/b.png", 0o644), 0)
        let single = try run([batch + "/b.png", folder + "/o.png"] + tiny, timeout: 30)
        XCTAssertFalse(single.timedOut)
        XCTAssertEqual(single.status, 1)
        XCTAssertTrue(single.error.contains("FIFO"), single.error)
        let many = try run([batch, folder + "/fifo-out"] + tiny, timeout: 60)
        XCTAssertFalse(many.timedOut)
        XCTAssertEqual(many.status, 1)
        XCTAssertEqual(listing(folder + "/fifo-out"), ["a.png"])
        XCTAssertTrue(many.error.contains("1 upscaled, 0 skipped, 1 failed"), many.error)
        let eval = try run(["eval", "--data", batch, "--scale", "4", "--method", "bicubic"], timeout: 30)
        XCTAssertFalse(eval.timedOut)
        XCTAssertEqual(eval.status, 1)
        let train = try run(
            [
                "train", "--data", batch, "--output", folder + "/run", "--features", "4", "--blocks", "1", "--steps",
                "1",
                "--batch-size", "1", "--patch-size", "32",
            ], timeout: 60)
        XCTAssertFalse(train.timedOut)
        XCTAssertEqual(train.status, 0, train.error)
        XCTAssertTrue(train.output.contains("FIFO"), train.output)
        let model = try run(["model", "info", batch + "/b.png"], timeout: 30)
        XCTAssertFalse(model.timedOut)
        XCTAssertEqual(model.status, 1)
    }

    // Row 9 and 13 (--tile): numbers are validated before any file is created.
    func testNumbersAreValidatedBeforeAnyFileIsCreated() throws {
        let outputs = try makeFolder("numbers")
        let bad = [
            ["--blend=-100"], ["--blend=-1000", "--tile", "8"], ["--overlap", "9223372036854775807"], ["--blend=-1"],
            ["--max-memory=-5"], ["--max-memory", "0"], ["--threads=-1"], ["--tile", "9223372036854775807"],
            ["--tile", "4"],
            ["--scale", "0"], ["--scale", "nan"], ["--quality", "0"], ["--max-pixels", "0"],
            ["--png-compression", "10"],
            ["--blend", "40", "--tile", "64"],
            ["--method", "lanczos"], ["--format", "webp"], ["--shard", "3/2"], ["--shard", "x"],
        ]
        for arguments in bad {
            let result = try run([sample("bird-lr.png"), outputs + "/o.png"] + tiny + arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments) accepted")
            XCTAssertLessThan(result.status, 128, "\(arguments) crashed: \(result.error)")
            XCTAssertEqual(result.error.split(separator: "\n").first.map { $0.hasPrefix("Error:") }, true, result.error)
            XCTAssertEqual(listing(outputs), [], "\(arguments) created a file")
        }
        XCTAssertEqual(try run([sample("bird-lr.png"), outputs + "/o.png", "--max-memory", "1"] + tiny).status, 1)
        XCTAssertEqual(listing(outputs), [])
    }

    // Row 10: the pixel limit is checked before decoding; an interlaced bomb fails cleanly.
    func testPixelLimitAndInterlacedBomb() throws {
        let bomb = Self.repository + "/Tests/UpscaleCLITests/Fixtures/interlaced-bomb.png"
        let limited = try run([bomb, folder + "/o.png", "--max-pixels", "10"] + tiny)
        XCTAssertEqual(limited.status, 1)
        XCTAssertTrue(limited.error.contains("megapixels"), limited.error)
        XCTAssertLessThan(limited.peakMB, 100)
        let budget = try run([bomb, folder + "/o.png", "--max-memory", "100"] + tiny)
        XCTAssertEqual(budget.status, 1)
        XCTAssertTrue(budget.error.contains("interlaced") && budget.error.contains("MB"), budget.error)
        XCTAssertLessThan(budget.peakMB, 100)
        XCTAssertEqual(listing(folder).filter { $0.hasSuffix(".png") || $0.hasSuffix(".tmp") }, [])
    }

    // Row 11: --max-memory is kept on narrow and wide images, or the image is refused with the budget it needs.
    func testMaxMemoryIsKept() throws {
        let wide = folder + "/wide.png", square = folder + "/square.png", cutout = folder + "/cutout.png"
        try writeImage(wide, width: 16000, height: 48)
        try writeImage(square, width: 160, height: 160)
        try writeImage(cutout, width: 12000, height: 48, channels: 4)
        for (input, budget) in [(wide, 300), (square, 120), (cutout, 500)] {
            let result = try run(
                [input, folder + "/o.png", "--model", model, "--max-memory", "\(budget)", "--quiet"], timeout: 300)
            XCTAssertEqual(result.status, 0, result.error)
            XCTAssertLessThan(result.peakMB, Double(budget), "\(input) at \(budget) MB")
            XCTAssertGreaterThan(result.peakMB, 20, "the peak was not measured")
        }
        // The shipped model runs on oneDNN plans, which keep more maps alive: the budget holds there too.
        let shipped = try run(
            [square, folder + "/o.png", "--model", "psnr", "--max-memory", "200", "--quiet"], timeout: 300)
        XCTAssertEqual(shipped.status, 0, shipped.error)
        XCTAssertLessThan(shipped.peakMB, 200)
        XCTAssertGreaterThan(shipped.peakMB, 20)
        // Near the smallest budget an RGBA image can run under, the run either keeps it or is refused.
        let tight = try run([cutout, folder + "/o.png", "--model", model, "--max-memory", "400", "--quiet"])
        if tight.status == 0 {
            XCTAssertLessThan(tight.peakMB, 400)
        } else {
            XCTAssertTrue(tight.error.contains("needs at least"), tight.error)
        }
        let tooSmall = try run([wide, folder + "/o.png", "--model", model, "--max-memory", "150", "--quiet"])
        XCTAssertEqual(tooSmall.status, 1)
        XCTAssertTrue(tooSmall.error.contains("needs at least"), tooSmall.error)
        XCTAssertLessThan(tooSmall.peakMB, 150)
    }

    // Row 12: file names that are not UTF-8 are found, read and written.
    func testFileNamesThatAreNotUTF8() throws {
        let name = Array("bad".utf8) + [0xFF] + Array(".png".utf8)
        let input = Array(folder.utf8) + [UInt8(ascii: "/")] + name
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: sample("bird-lr.png")))
        var cPath = input.map { CChar(bitPattern: $0) } + [0]
        let file = open(&cPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(file, 0)
        _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        close(file)
        let output = Array(folder.utf8) + Array("/out-".utf8) + [0xFE] + Array(".png".utf8)
        let single = try runBytes([input, output] + ["--model", model, "--quiet"].map { Array($0.utf8) })
        XCTAssertEqual(single.status, 0, single.error)
        var outPath = output.map { CChar(bitPattern: $0) } + [0]
        XCTAssertEqual(access(&outPath, F_OK), 0)
        // In a batch, the name survives listing and comes out byte-exact.
        let batchOut = folder + "/batch"
        let batch = try run([folder, batchOut, "--model", model, "--quiet"])
        XCTAssertEqual(batch.status, 0, batch.error)
        var batchPath = (Array(batchOut.utf8) + [UInt8(ascii: "/")] + name).map { CChar(bitPattern: $0) } + [0]
        XCTAssertEqual(access(&batchPath, F_OK), 0)
    }

    // Row 13: the smaller cases.
    func testSmallerCasesGiveCleanErrors() throws {
        // A batch output path that is an existing file.
        let inputs = try makeFolder("in")
        try copySample("bird-lr.png", to: inputs + "/a.png")
        _ = FileManager.default.createFile(atPath: folder + "/file", contents: Data([1]))
        let onFile = try run([inputs, folder + "/file"] + tiny)
        XCTAssertEqual(onFile.status, 1)
        XCTAssertTrue(
            onFile.error.contains("is not a folder") && !onFile.error.contains("NSCocoaErrorDomain"), onFile.error)
        // A folder named like an image as input.
        let dirPNG = try makeFolder("dir.png")
        try copySample("bird-lr.png", to: dirPNG + "/a.png")
        let dirInput = try run([dirPNG, folder + "/out.png"] + tiny)
        XCTAssertEqual(dirInput.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/out.png"))
        // --recursive with the output folder inside the input folder does not re-upscale earlier outputs.
        let nested = inputs + "/big"
        for _ in 0..<2 {
            let result = try run([inputs, nested, "--recursive", "--format", "png", "--suffix=-x4"] + tiny)
            XCTAssertEqual(result.status, 0, result.error)
        }
        XCTAssertEqual(listing(nested), ["a-x4.png"])
        // --resume with a corrupt state.json names the file.
        let run1 = folder + "/run"
        try FileManager.default.createDirectory(atPath: run1 + "/checkpoint", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: run1 + "/checkpoint/state.json", contents: Data("{not json".utf8))
        let resume = try run(["train", "--resume", run1])
        XCTAssertEqual(resume.status, 1)
        XCTAssertTrue(resume.error.contains("state.json") && !resume.error.contains("DecodingError"), resume.error)
    }

    // Row 13 (checkpoints): `train --export` needs only the checkpoint: a GAN run whose VGG weights and data have
    // moved away since still exports its EMA generator, and a broken checkpoint gets a one-line error.
    func testExportNeedsOnlyTheCheckpoint() throws {
        let data = try makeFolder("data")
        try copySample("bird-lr.png", to: data + "/a.png")
        let vgg = folder + "/vgg.safetensors"
        try FileManager.default.copyItem(
            atPath: Self.repository + "/weights/vgg16_caffe_conv1_1-conv5_3_f16.safetensors", toPath: vgg)
        let runFolder = folder + "/run"
        let trained = try run([
            "train", "--stage", "gan", "--data", data, "--output", runFolder, "--features", "4", "--blocks", "1",
            "--steps", "1", "--batch-size", "1", "--patch-size", "32", "--vgg-weights", vgg,
        ])
        XCTAssertEqual(trained.status, 0, trained.error)
        try FileManager.default.removeItem(atPath: vgg)
        try FileManager.default.removeItem(atPath: data)
        let exported = folder + "/g.safetensors"
        let result = try run(["train", "--export", runFolder, exported])
        XCTAssertEqual(result.status, 0, result.error)
        let file = try SafeTensors.read(path: exported)
        XCTAssertEqual(file.metadata["kind"], "gan")
        XCTAssertEqual(file.metadata["steps"], "1")
        let averages = try SafeTensors.read(path: runFolder + "/checkpoint/generator_ema.safetensors").tensors
        XCTAssertEqual(Set(file.tensors.keys), Set(averages.keys))
        for (name, tensor) in averages { XCTAssertEqual(file.tensors[name], tensor, name) }
        try Data("not weights".utf8).write(
            to: URL(fileURLWithPath: runFolder + "/checkpoint/generator_ema.safetensors"))
        let broken = try run(["train", "--export", runFolder, folder + "/h.safetensors"])
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.error.contains("generator_ema.safetensors"), broken.error)
        XCTAssertEqual(broken.error.split(separator: "\n").count, 1, broken.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/h.safetensors"))
    }

    // Row 13 (checkpoints): a stop between the checkpoint's two renames leaves checkpoint.old, which --resume uses.
    func testResumeFallsBackToTheOldCheckpoint() throws {
        let data = try makeFolder("data")
        try copySample("bird-lr.png", to: data + "/a.png")
        let runFolder = folder + "/run"
        let first = try run([
            "train", "--data", data, "--output", runFolder, "--features", "4", "--blocks", "1", "--steps", "2",
            "--batch-size", "1", "--patch-size", "32", "--log-every", "1",
        ])
        XCTAssertEqual(first.status, 0, first.error)
        try FileManager.default.moveItem(atPath: runFolder + "/checkpoint", toPath: runFolder + "/checkpoint.old")
        let resumed = try run([
            "train", "--resume", runFolder, "--steps", "3", "--log-every", "1", "--gan-weight", "0.3",
            "--learning-rate", "5e-5",
        ])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.output.contains("step 3/3"), resumed.output)
        XCTAssertTrue(resumed.output.contains("GAN weight 0.005 -> 0.3"), resumed.output)
        XCTAssertTrue(resumed.output.contains("base learning rate 0.0002 -> 5e-05"), resumed.output)
        // Settings that define the run are refused on resume, as a usage error, before anything is written.
        let refused = try run([
            "train", "--resume", runFolder, "--features", "8", "--data", data, "--degradation", "realistic",
        ])
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.error.contains("--data, --features cannot change them"), refused.error)
        XCTAssertTrue(refused.error.hasPrefix("Error: --resume continues"), refused.error)
        // The degradation may change on resume (a fork onto other inputs).
        let forked = try run(["train", "--resume", runFolder, "--steps", "4", "--degradation", "realistic"])
        XCTAssertEqual(forked.status, 0, forked.error)
        XCTAssertTrue(forked.output.contains("resumed with degradation bicubic -> realistic"), forked.output)
        XCTAssertTrue(forked.output.contains("realistic inputs"), forked.output)
        // The crop size may change on resume, to a size this ×4 run can take.
        let odd = try run(["train", "--resume", runFolder, "--steps", "5", "--patch-size", "30"])
        XCTAssertEqual(odd.status, 1)
        XCTAssertTrue(odd.error.contains("multiple of the scale, 4") && odd.error.contains(runFolder), odd.error)
        // --blocks grows the run's generator on resume; it cannot shrink it.
        let deeper = try run(["train", "--resume", runFolder, "--steps", "6", "--blocks", "2"])
        XCTAssertEqual(deeper.status, 0, deeper.error)
        XCTAssertTrue(deeper.output.contains("residual blocks 1 -> 2"), deeper.output)
        let shallower = try run(["train", "--resume", runFolder, "--steps", "7", "--blocks", "1"])
        XCTAssertEqual(shallower.status, 1)
        XCTAssertEqual(shallower.error.split(separator: "\n").count, 1, shallower.error)
        XCTAssertTrue(
            shallower.error.contains("not shrink them") && shallower.error.contains(runFolder), shallower.error)
        // --init's file fixes the network: --blocks may grow it, --features is refused before anything is made.
        let model = runFolder + "/model.safetensors"
        let grownFolder = folder + "/grown"
        let common = [
            "train", "--data", data, "--init", model, "--steps", "1", "--batch-size", "1", "--patch-size", "32",
        ]
        let grown = try run(common + ["--blocks", "3", "--branch-expansion", "2", "--output", grownFolder])
        XCTAssertEqual(grown.status, 0, grown.error)
        XCTAssertTrue(grown.output.contains("4 features × 3 blocks"), grown.output)
        XCTAssertTrue(grown.output.contains("with branches of 2× expansion"), grown.output)
        let plain = try Generator.load(path: grownFolder + "/model.safetensors")
        XCTAssertEqual(plain.config.blocks, 3, "the exported model is the plain, grown one")
        let exported = try run(["train", "--export", grownFolder, folder + "/exported.safetensors"])
        XCTAssertEqual(exported.status, 0, exported.error)
        XCTAssertEqual(
            try Generator.load(path: folder + "/exported.safetensors").stateDictionary(), plain.stateDictionary(),
            "--export folds the checkpoint's branches too")
        let branchesOnResume = try run(["train", "--resume", grownFolder, "--branch-expansion", "3"])
        XCTAssertEqual(branchesOnResume.status, 1)
        XCTAssertTrue(branchesOnResume.error.contains("a run keeps it"), branchesOnResume.error)
        for (options, problem) in [
            (["--features", "8"], "--init's file fixes the network; --features describe"),
            (["--blocks", "1", "--scale", "2"], "--scale 2 does not match"),
        ] {
            let refused = try run(common + options + ["--output", folder + "/refused"])
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.error.split(separator: "\n").first!.contains(problem), refused.error)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/refused"))
        }
    }
}
