import Foundation
import SRImage
import SRModels
import SRTensor
import XCTest

/// Runs the built `upscale` binary the way a user does.
final class CLITests: BinaryTestCase {
    func testVersionReportsTheWidestKernelsThisProcessorRuns() throws {
        let result = try run(["--version"])
        XCTAssertEqual(result.status, 0, result.error)
        let line = try XCTUnwrap(
            result.output.split(separator: "\n").first { $0.hasPrefix("OpenBLAS core ") }, result.output)
        let core = String(line.dropFirst("OpenBLAS core ".count).prefix { $0 != " " && $0 != ";" })
        if let best = BLASKernels.bestCore(for: .current) {
            XCTAssertGreaterThanOrEqual(
                BLASKernels.vectorLevel(ofCore: core), BLASKernels.vectorLevel(ofCore: best), String(line))
        }
        // With the choice forced by the user, the user's choice stands and is reported.
        let forced = try run(["--version"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertTrue(forced.output.contains("OpenBLAS core Prescott (OPENBLAS_CORETYPE=Prescott)"), forced.output)
    }

    func testHelpExplainsEveryCommandWithAnExample() throws {
        for command in [
            ["--help"], ["image", "--help"], ["eval", "--help"], ["train", "--help"], ["model", "new", "--help"],
            ["model", "info", "--help"], ["degrade", "--help"], ["model", "export", "--help"],
            ["model", "convert", "--help"],
        ] {
            let result = try run(command)
            XCTAssertEqual(result.status, 0)
            XCTAssertTrue(result.output.contains("xample"), "\(command) help lacks an example")
        }
        XCTAssertTrue(try run(["image", "--help"]).output.contains("Native model scales"))
    }

    func testSingleImageKeepsSizeAlphaDepthGrayAndOrientation() throws {
        let cases: [(String, [Int])] = [
            ("bird-lr.png", [288, 288, 3, 8]), ("butterfly-alpha.png", [256, 256, 4, 8]),
            ("scan-16bit.png", [320, 240, 3, 16]),
            ("gray.png", [256, 256, 1, 8]), ("phone-exif6-icc.jpg", [768, 512, 3, 8]),
        ]
        for (name, expected) in cases {
            let output = folder + "/" + name.replacingOccurrences(of: ".jpg", with: ".png")
            let result = try run([sample(name), output, "--scale", "4", "--model", model, "--quiet"])
            XCTAssertEqual(result.status, 0, result.error)
            let d = try ImageReader(path: output).description
            XCTAssertEqual([d.width, d.height, d.channels, d.bitDepth], expected, name)
            if name.hasSuffix(".jpg") { XCTAssertEqual(d.metadata.iccProfile?.count, 588, "ICC profile copied") }
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary files left behind")
    }

    func testNonNativeScaleResamplesTheModelOutput() throws {
        let output = folder + "/bird-x3.jpg"
        let result = try run([sample("bird-lr.png"), output, "--scale", "3", "--model", model, "--quiet"])
        XCTAssertEqual(result.status, 0, result.error)
        let d = try ImageReader(path: output).description
        XCTAssertEqual([d.width, d.height, d.channels], [216, 216, 3])
        XCTAssertEqual(
            try run([sample("bird-lr.png"), folder + "/b.png", "--scale", "2.5", "--method", "bicubic"]).status, 0)
        XCTAssertEqual(try ImageReader(path: folder + "/b.png").description.width, 180)
    }

    func testBatchGoesOnPastABadFileAndReportsIt() throws {
        let input = folder + "/in", output = folder + "/out"
        try FileManager.default.createDirectory(atPath: input + "/sub", withIntermediateDirectories: true)
        for name in ["bird-lr.png", "gray.png"] {
            try FileManager.default.copyItem(atPath: sample(name), toPath: input + "/" + name)
        }
        try FileManager.default.copyItem(atPath: sample("butterfly-alpha.png"), toPath: input + "/sub/butterfly.png")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: input + "/broken.png"))
        let result = try run([input, output, "--model", model, "--recursive", "--format", "png", "--suffix", "-x4"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.contains("3 upscaled, 0 skipped, 1 failed"), result.error)
        XCTAssertTrue(result.error.contains("broken.png: not a PNG, JPEG or GIF file"), result.error)
        for name in ["bird-lr-x4.png", "gray-x4.png", "sub/butterfly-x4.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: output + "/" + name), name)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + "/broken-x4.png"), "no output for a failed file")
        // Resuming skips what exists.
        let again = try run([
            input, output, "--model", model, "--recursive", "--format", "png", "--suffix", "-x4", "--skip-existing",
        ])
        XCTAssertTrue(again.error.contains("0 upscaled, 3 skipped, 1 failed"), again.error)
    }

    func testNeverOverwritesAnInputEvenInTheSameFolder() throws {
        let input = folder + "/same"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sample("gray.png"), toPath: input + "/gray.png")
        let before = try Data(contentsOf: URL(fileURLWithPath: input + "/gray.png"))
        let result = try run([input, input, "--model", model])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.error.contains("would overwrite the input"), result.error)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input + "/gray.png")), before)
        let single = try run([input + "/gray.png", input + "/gray.png", "--model", model])
        XCTAssertNotEqual(single.status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input + "/gray.png")), before)
    }

    func testShardsPartitionTheFolder() throws {
        let input = folder + "/many"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for i in 0..<5 { try FileManager.default.copyItem(atPath: sample("gray.png"), toPath: input + "/g\(i).png") }
        var seen: [String] = []
        for k in 1...2 {
            let out = folder + "/shard\(k)"
            let result = try run([input, out, "--method", "bicubic", "--scale", "2", "--shard", "\(k)/2", "--json"])
            XCTAssertEqual(result.status, 0, result.error)
            seen += try FileManager.default.contentsOfDirectory(atPath: out)
        }
        XCTAssertEqual(seen.sorted(), (0..<5).map { "g\($0).png" })
        XCTAssertNotEqual(try run([input, folder + "/x", "--shard", "3/2"]).status, 0)
    }

    func testErrorsAreOneLineNamingTheFile() throws {
        let missing = try run([folder + "/nope.png", folder + "/o.png", "--method", "bicubic"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.error.split(separator: "\n").count, 1)
        XCTAssertTrue(missing.error.contains("nope.png"))
        let truncated = folder + "/cut.png"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: sample("bird-lr.png")))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        let result = try run([truncated, folder + "/cut-x4.png", "--model", model, "--quiet"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.hasPrefix("error: \(truncated): "), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/cut-x4.png"), "no half-written output")
        XCTAssertNotEqual(try run([sample("gray.png"), folder + "/o.webp", "--method", "bicubic"]).status, 0)
        let badModel = try run([sample("gray.png"), folder + "/o.png", "--model", sample("gray.png")])
        XCTAssertEqual(badModel.status, 1)
        XCTAssertTrue(badModel.error.contains("safetensors"), badModel.error)
    }

    func testAnimatedGIFsKeepEveryFrameTheirTimingAndTransparency() throws {
        // Three 12x10 frames: a transparent left column in the second, delays 5/20/70, loop count 2.
        let input = folder + "/anim.gif"
        let writer = try GIFWriter(path: input, width: 12, height: 10, loopCount: 2)
        for (index, delay) in [5, 20, 70].enumerated() {
            var frame = PlanarImage(width: 12, height: 10, channels: 4)
            for y in 0..<10 {
                for x in 0..<12 {
                    frame[0, y, x] = Float(x) / 11
                    frame[1, y, x] = Float(y) / 9
                    frame[2, y, x] = Float(index) / 2
                    frame[3, y, x] = index == 1 && x < 4 ? 0 : 1
                }
            }
            try writer.write(frame, delay: delay)
        }
        try writer.finish()
        for arguments in [["--method", "bicubic"], ["--model", model]] {
            let output = folder + "/anim-x4.gif"
            let result = try run([input, output, "--quiet"] + arguments)
            XCTAssertEqual(result.status, 0, result.error)
            let reader = try GIFReader(path: output)
            XCTAssertEqual([reader.width, reader.height, reader.frameCount], [48, 40, 3])
            XCTAssertEqual(reader.loopCount, 2)
            var delays: [Int] = []
            var alphas: [[UInt8]] = []
            var lastBlue: UInt8 = 0
            while let frame = try reader.nextFrame() {
                delays.append(frame.delay)
                alphas.append(stride(from: 3, to: frame.rgba.count, by: 4).map { frame.rgba[$0] })
                lastBlue = frame.rgba[4 * (20 * 48 + 24) + 2]
            }
            XCTAssertEqual(delays, [5, 20, 70])
            XCTAssertEqual(Set(alphas[0] + alphas[2]), [255], "opaque frames stay opaque")
            // The second frame: transparent well inside the left four columns (×4), opaque well right of them.
            for y in 0..<40 {
                XCTAssertEqual(alphas[1][y * 48 + 4], 0)
                XCTAssertEqual(alphas[1][y * 48 + 30], 255)
            }
            // The last frame's blue (1.0 in the input) survives the palette.
            XCTAssertGreaterThan(lastBlue, 230)
            try FileManager.default.removeItem(atPath: output)
        }
        // An animation cannot become one PNG: a one-line error naming the file, and nothing written.
        let png = try run([input, folder + "/anim.png", "--method", "bicubic"])
        XCTAssertEqual(png.status, 1)
        XCTAssertEqual(png.error.split(separator: "\n").count, 1, png.error)
        XCTAssertTrue(png.error.contains("anim.gif: is an animated GIF (3 frames)"), png.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/anim.png"))
        XCTAssertEqual(leftoverTemporaries(in: folder), [])
        // A still GIF becomes any format; a batch with --format same writes GIFs as GIFs.
        let still = folder + "/still.gif"
        try ImageFile.write(
            PlanarImage(width: 6, height: 4, channels: 3, pixels: (0..<72).map { Float($0) / 71 }), to: still)
        let stillResult = try run([still, folder + "/still-x2.png", "--scale", "2", "--method", "bicubic"])
        XCTAssertEqual(stillResult.status, 0, stillResult.error)
        let (image, description) = try ImageFile.read(folder + "/still-x2.png")
        XCTAssertEqual([image.width, image.height, description.channels], [12, 8, 3])
        let batch = folder + "/batch"
        let batchResult = try run([folder, batch, "--method", "bicubic", "--scale", "2", "--quiet"])
        XCTAssertEqual(batchResult.status, 0, batchResult.error)
        XCTAssertEqual(try GIFReader(path: batch + "/anim.gif").frameCount, 3)
        XCTAssertEqual(try GIFReader(path: batch + "/still.gif").frameCount, 1)
    }

    func testTIFFKeepsDepthAlphaProfileAndResolution() throws {
        // A 16-bit RGBA TIFF with a colour profile and 300 dpi: ramps, and a transparent left column.
        let input = folder + "/scan.tif"
        var image = PlanarImage(width: 20, height: 16, channels: 4)
        for y in 0..<16 {
            for x in 0..<20 {
                (image[0, y, x], image[1, y, x], image[2, y, x]) = (Float(x) / 19, Float(y) / 15, 0.5)
                image[3, y, x] = x < 3 ? 0 : 1
            }
        }
        let metadata = ImageMetadata(
            iccProfile: Array(repeating: 9, count: 300), resolution: Resolution(x: 300, y: 300))
        try ImageFile.write(image, to: input, bitDepth: 16, metadata: metadata)
        for arguments in [["--method", "bicubic"], ["--model", model]] {
            let output = folder + "/scan-x4.tiff"
            let result = try run([input, output, "--quiet"] + arguments)
            XCTAssertEqual(result.status, 0, result.error)
            let (upscaled, description) = try ImageFile.read(output)
            XCTAssertEqual(description.format, .tiff)
            XCTAssertEqual(
                [upscaled.width, upscaled.height, description.channels, description.bitDepth], [80, 64, 4, 16])
            XCTAssertEqual(description.metadata.iccProfile, metadata.iccProfile)
            XCTAssertEqual(description.metadata.resolution, metadata.resolution)
            // 16 bits survive: most of the upscaled ramp falls between the steps of 8 bits.
            let offGrid = (0..<(80 * 64)).filter {
                abs(upscaled.pixels[$0] * 255 - (upscaled.pixels[$0] * 255).rounded()) > 0.01
            }
            XCTAssertGreaterThan(offGrid.count, 80 * 64 / 2)
            XCTAssertEqual(upscaled[3, 30, 2], 0)
            XCTAssertEqual(upscaled[3, 30, 40], 1)
            try FileManager.default.removeItem(atPath: output)
        }
        // A batch takes .tif inputs and writes TIFFs on request.
        try ImageFile.write(image.rgb(), to: folder + "/photo.png")
        let batch = folder + "/batch"
        let result = try run([folder, batch, "--method", "bicubic", "--scale", "2", "--format", "tiff", "--quiet"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: batch).sorted(), ["photo.tiff", "scan.tiff"])
        XCTAssertEqual(try ImageFile.read(batch + "/photo.tiff").description.channels, 3)
    }

    func testFloatingPointTIFFKeepsItsRangeAndDepth() throws {
        // 32-bit float RGB with values from -0.5 to 2 (a linear or scientific image), and a flat patch of 1.75.
        let input = folder + "/linear.tif"
        var image = PlanarImage(width: 20, height: 16, channels: 3)
        for y in 0..<16 {
            for x in 0..<20 {
                let ramp = Float(x) / 19 * 2.5 - 0.5
                (image[0, y, x], image[1, y, x], image[2, y, x]) = x >= 12 ? (1.75, 1.75, 1.75) : (ramp, 0.5, -0.25)
            }
        }
        try ImageFile.write(image, to: input, bitDepth: 32)
        for arguments in [["--method", "bicubic"], ["--model", model]] {
            let output = folder + "/linear-x4.tif"
            let result = try run([input, output, "--quiet"] + arguments)
            XCTAssertEqual(result.status, 0, result.error)
            let (upscaled, description) = try ImageFile.read(output)
            XCTAssertEqual(
                [upscaled.width, upscaled.height, description.channels, description.bitDepth], [80, 64, 3, 32])
            // Values outside [0, 1] survive: the flat patch stays near 1.75, the blue plane near -0.25.
            XCTAssertEqual(upscaled[1, 32, 70], 1.75, accuracy: 0.2, arguments.joined(separator: " "))
            XCTAssertEqual(upscaled[2, 32, 10], -0.25, accuracy: 0.2, arguments.joined(separator: " "))
            try FileManager.default.removeItem(atPath: output)
        }
        // A PNG of the same input is 16-bit and clamped.
        let result = try run([input, folder + "/linear-x4.png", "--method", "bicubic", "--quiet"])
        XCTAssertEqual(result.status, 0, result.error)
        let (png, description) = try ImageFile.read(folder + "/linear-x4.png")
        XCTAssertEqual(description.bitDepth, 16)
        XCTAssertEqual(png[1, 32, 70], 1)
        XCTAssertEqual(png[2, 32, 10], 0)
    }

    func testSeamlessTexturesTileWithoutSeams() throws {
        // A tileable RGBA texture: its --seamless upscale equals the centre of the upscaled 3 × 3 mosaic.
        var texture = PlanarImage(width: 24, height: 20, channels: 4)
        var mosaic = PlanarImage(width: 72, height: 60, channels: 4)
        for c in 0..<4 {
            for y in 0..<20 {
                for x in 0..<24 {
                    let angle = 2 * Float.pi * (Float(x) / 24 * Float(c + 1) + Float(y) / 20 * Float(2 - c % 2))
                    texture[c, y, x] = c == 3 ? (x < 3 || x > 21 ? 0 : 1) : 0.5 + 0.4 * sin(angle)
                }
            }
        }
        for c in 0..<4 { for y in 0..<60 { for x in 0..<72 { mosaic[c, y, x] = texture[c, y % 20, x % 24] } } }
        try ImageFile.write(texture, to: folder + "/texture.png", bitDepth: 16)
        try ImageFile.write(mosaic, to: folder + "/mosaic.png", bitDepth: 16)
        for arguments in [["--model", model], ["--method", "bicubic", "--scale", "3"]] {
            let seamless = try run(
                [folder + "/texture.png", folder + "/seamless.png", "--seamless", "--quiet"] + arguments)
            XCTAssertEqual(seamless.status, 0, seamless.error)
            let plain = try run([folder + "/mosaic.png", folder + "/mosaic-up.png", "--quiet"] + arguments)
            XCTAssertEqual(plain.status, 0, plain.error)
            let result = try ImageFile.read(folder + "/seamless.png").image
            let scale = result.width / 24
            let centre = try ImageFile.read(folder + "/mosaic-up.png").image.cropped(
                x: 24 * scale, y: 20 * scale, width: 24 * scale, height: 20 * scale)
            XCTAssertEqual([result.width, result.height, result.channels], [24 * scale, 20 * scale, 4])
            XCTAssertLessThanOrEqual(zip(result.pixels, centre.pixels).map { abs($0 - $1) }.max()!, 1.5 / 65535)
        }
        // A still GIF texture gets the same wrap-around as the same pixels in a PNG.
        let still = try GIFWriter(path: folder + "/texture.gif", width: 24, height: 20, loopCount: nil)
        try still.write(texture, delay: 0)
        try still.finish()
        try ImageFile.write(try ImageFile.read(folder + "/texture.gif").image, to: folder + "/from-gif.png")
        for name in ["texture.gif", "from-gif.png"] {
            let result = try run([folder + "/" + name, folder + "/\(name)-x4.png", "--seamless", "--model", model])
            XCTAssertEqual(result.status, 0, result.error)
        }
        XCTAssertEqual(
            try ImageFile.read(folder + "/texture.gif-x4.png").image,
            try ImageFile.read(folder + "/from-gif.png-x4.png").image)
        // Animated GIFs are refused in one line, and nothing is written.
        let writer = try GIFWriter(path: folder + "/anim.gif", width: 4, height: 4, loopCount: nil)
        for _ in 0..<2 { try writer.write(PlanarImage(width: 4, height: 4, channels: 4), delay: 5) }
        try writer.finish()
        let gif = try run([folder + "/anim.gif", folder + "/anim-x4.gif", "--seamless", "--method", "bicubic"])
        XCTAssertEqual(gif.status, 1)
        XCTAssertTrue(gif.error.contains("anim.gif: is an animated GIF; --seamless takes still images"), gif.error)
        XCTAssertEqual(gif.error.split(separator: "\n").count, 1, gif.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/anim-x4.gif"))
    }

    func testTGAAndBMPTexturesKeepAlphaThroughTheEngine() throws {
        // RGBA textures read from bottom-to-top TGA and BMP files (as Pillow writes them) give the same pixels as
        // their PNGs.
        for (name, suffix) in [("rgba-rle-bottom-up.tga", "tga"), ("bgra32-v4.bmp", "bmp")] {
            let fixture = CLITests.repository + "/Tests/SRImageTests/Fixtures/" + name
            let image = try ImageFile.read(fixture).image
            try ImageFile.write(image, to: folder + "/texture.png")
            for output in ["texture-x4." + suffix, "texture-x4.png"] {
                let input = output.hasSuffix(suffix) ? fixture : folder + "/texture.png"
                let result = try run([input, folder + "/" + output, "--model", model, "--quiet"])
                XCTAssertEqual(result.status, 0, result.error)
            }
            let (upscaled, description) = try ImageFile.read(folder + "/texture-x4." + suffix)
            XCTAssertEqual(
                [description.channels, description.bitDepth, upscaled.width, upscaled.height],
                [4, 8, image.width * 4, image.height * 4])
            XCTAssertEqual(upscaled, try ImageFile.read(folder + "/texture-x4.png").image, name)
            // A batch takes these inputs and writes the format on request.
            let source = folder + "/textures-" + suffix, batch = folder + "/batch-" + suffix
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: fixture, toPath: source + "/wall." + suffix)
            try FileManager.default.copyItem(atPath: folder + "/texture.png", toPath: source + "/floor.png")
            let result = try run([source, batch, "--method", "bicubic", "--scale", "2", "--format", suffix, "--quiet"])
            XCTAssertEqual(result.status, 0, result.error)
            XCTAssertEqual(
                try FileManager.default.contentsOfDirectory(atPath: batch).sorted(),
                ["floor." + suffix, "wall." + suffix])
            XCTAssertEqual(
                try ImageFile.read(batch + "/wall." + suffix).image,
                try ImageFile.read(batch + "/floor." + suffix).image)
        }
    }

    func testNetpbmKeepsSixteenBits() throws {
        // A 16-bit PGM (as scientific and vision tools write them) upscales into a 16-bit PGM with the PNG's pixels.
        let image = PlanarImage(width: 19, height: 13, channels: 1, pixels: (0..<247).map { Float($0 * 257) / 65535 })
        try ImageFile.write(image, to: folder + "/depth.pgm", bitDepth: 16)
        try ImageFile.write(image, to: folder + "/depth.png", bitDepth: 16)
        for name in ["depth.pgm", "depth.png"] {
            let result = try run([folder + "/" + name, folder + "/x4-" + name, "--model", model, "--quiet"])
            XCTAssertEqual(result.status, 0, result.error)
        }
        let (pgm, description) = try ImageFile.read(folder + "/x4-depth.pgm")
        XCTAssertEqual([description.channels, description.bitDepth, pgm.width], [1, 16, 76])
        XCTAssertEqual(pgm, try ImageFile.read(folder + "/x4-depth.png").image)
    }

    func testMultiPageTIFFsKeepEveryPage() throws {
        // Three pages: RGB, 16-bit gray, RGBA; each upscaled page equals that page upscaled on its own.
        let input = folder + "/pages.tif"
        let pages = [
            PlanarImage(width: 20, height: 12, channels: 3, pixels: (0..<720).map { Float($0 % 97) / 96 }),
            PlanarImage(width: 9, height: 14, channels: 1, pixels: (0..<126).map { Float($0) / 125 }),
            PlanarImage(width: 16, height: 16, channels: 4, pixels: (0..<1024).map { Float($0 % 31) / 30 }),
        ]
        let writer = try ImageWriter(path: input, format: .tiff, width: 20, height: 12, channels: 3, pages: 3)
        for (index, page) in pages.enumerated() {
            if index > 0 {
                try writer.startPage(
                    width: page.width, height: page.height, channels: page.channels, bitDepth: index == 1 ? 16 : 8)
            }
            try writer.writeRows(page)
        }
        try writer.finish()
        let output = folder + "/pages-x4.tif"
        let result = try run([input, output, "--model", model, "--quiet"])
        XCTAssertEqual(result.status, 0, result.error)
        for (index, page) in pages.enumerated() {
            let single = folder + "/page\(index).tif"
            try ImageFile.write(page, to: single, bitDepth: index == 1 ? 16 : 8)
            XCTAssertEqual(try run([single, folder + "/page\(index)-x4.tif", "--model", model, "--quiet"]).status, 0)
            let alone = try ImageFile.read(folder + "/page\(index)-x4.tif").image
            let reader = try ImageReader(path: output, page: index)
            XCTAssertEqual(reader.description.pageCount, 3)
            XCTAssertEqual(reader.description.bitDepth, index == 1 ? 16 : 8)
            XCTAssertEqual(try reader.readAll(), alone, "page \(index + 1)")
        }
        // Pages cannot become one PNG: one line naming the file, nothing written.
        let png = try run([input, folder + "/pages.png", "--method", "bicubic"])
        XCTAssertEqual(png.status, 1)
        XCTAssertTrue(png.error.contains("pages.tif: is a multi-page TIFF (3 pages)"), png.error)
        XCTAssertEqual(png.error.split(separator: "\n").count, 1, png.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/pages.png"))
    }

    func testInterpolateBlendsWeights() throws {
        let other = folder + "/other.safetensors", mix = folder + "/mix.safetensors"
        XCTAssertEqual(
            try run(["model", "new", "--features", "4", "--blocks", "1", "--scale", "4", "--seed", "9", other]).status,
            0)
        let result = try run(["model", "interpolate", model, other, "--alpha", "0.25", mix])
        XCTAssertEqual(result.status, 0, result.error)
        let a = try SafeTensors.read(path: model).tensors, b = try SafeTensors.read(path: other).tensors
        let m = try SafeTensors.read(path: mix).tensors
        XCTAssertEqual(Set(m.keys), Set(a.keys))
        for (name, tensor) in m {
            for i in 0..<tensor.count {
                XCTAssertEqual(
                    tensor.scalars[i], 0.25 * a[name]!.scalars[i] + 0.75 * b[name]!.scalars[i], accuracy: 1e-6)
            }
        }
        // The description states the weights as given (1 − 0.8 in Float is 0.19999999).
        XCTAssertEqual(try run(["model", "interpolate", model, other, "--alpha", "0.8", mix]).status, 0)
        let description = try SafeTensors.read(path: mix).metadata["description"] ?? ""
        XCTAssertTrue(description.hasPrefix("interpolation 0.8 × ") && description.contains(" + 0.2 × "), description)
        let wrong = folder + "/x2.safetensors"
        XCTAssertEqual(try run(["model", "new", "--features", "4", "--blocks", "1", "--scale", "2", wrong]).status, 0)
        XCTAssertNotEqual(try run(["model", "interpolate", model, wrong, mix]).status, 0)
        // Same sizes, other layout: the compact network is a different architecture.
        let compact = folder + "/compact.safetensors"
        let made = try run([
            "model", "new", "--architecture", "compact", "--features", "4", "--blocks", "1", "--scale", "4", compact,
        ])
        XCTAssertEqual(made.status, 0, made.error)
        XCTAssertTrue(try run(["model", "info", compact]).output.contains("CompactResNet, scale ×4"))
        XCTAssertNotEqual(try run(["model", "interpolate", model, compact, mix]).status, 0)
    }

    func testInterpolateGivesLayersTheirOwnAlpha() throws {
        let other = folder + "/other.safetensors", mix = folder + "/graft.safetensors"
        XCTAssertEqual(
            try run(["model", "new", "--features", "4", "--blocks", "1", "--scale", "4", "--seed", "9", other]).status,
            0)
        let result = try run([
            "model", "interpolate", model, other, "--alpha", "1", "--layer-alpha", "body.0=0", "--layer-alpha",
            "body.0.conv2=0.5", mix,
        ])
        XCTAssertEqual(result.status, 0, result.error)
        let a = try SafeTensors.read(path: model).tensors, b = try SafeTensors.read(path: other).tensors
        let m = try SafeTensors.read(path: mix).tensors
        XCTAssertEqual(Set(m.keys), Set(a.keys))
        var seen = Set<Float>()
        for (name, tensor) in m {
            // The longest matching layer wins; names outside body.0 keep --alpha.
            let share: Float = name.hasPrefix("body.0.conv2.") ? 0.5 : name.hasPrefix("body.0.") ? 0 : 1
            seen.insert(share)
            for i in 0..<tensor.count {
                XCTAssertEqual(
                    tensor.scalars[i], share * a[name]!.scalars[i] + (1 - share) * b[name]!.scalars[i],
                    accuracy: 1e-6, name)
            }
        }
        XCTAssertEqual(seen, [0, 0.5, 1])
        let description = try SafeTensors.read(path: mix).metadata["description"] ?? ""
        XCTAssertTrue(description.hasSuffix("; body.0 0 × A + 1 × B; body.0.conv2 0.5 × A + 0.5 × B"), description)
        // `model info --layers` lists the names --layer-alpha takes, with parameter counts adding up.
        let info = try run(["model", "info", model, "--layers"])
        XCTAssertEqual(info.status, 0, info.error)
        let listed = info.output.split(separator: "\n").drop { $0 != "layers:" }.dropFirst().map {
            $0.split(separator: " ").map(String.init)
        }
        let total = info.output.split(separator: "\n").first { $0.hasPrefix("parameters:") }?.split(separator: " ").last
        XCTAssertEqual(listed.map { Int($0[1]) ?? -1 }.reduce(0, +), total.flatMap { Int($0) })
        XCTAssertEqual(listed.first, ["conv_first", "\(3 * 4 * 9 + 4)"])
        XCTAssertEqual(listed.map(\.[0]).filter { $0.hasPrefix("body.0.") }, ["body.0.conv1", "body.0.conv2"])
        let refusal = try run(["model", "interpolate", model, other, "--layer-alpha", "nothing=0", mix]).error
        XCTAssertTrue(refusal.contains("(its layers: \(listed.map(\.[0]).sorted().joined(separator: ", ")))"), refusal)
        // A name that is no layer (a partial word included) fails with the layers listed, and writes nothing.
        for layer in ["body.9", "bod", "body.0.conv"] {
            let target = folder + "/none.safetensors"
            let refused = try run(["model", "interpolate", model, other, "--layer-alpha", layer + "=0", target])
            XCTAssertEqual(refused.status, 1, layer)
            XCTAssertTrue(
                refused.error.contains("no layer \"\(layer)\"") && refused.error.contains("conv_first"), refused.error)
            XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        }
        for malformed in ["body.0", "=0.5", "body.0=1.5", "body.0=x"] {
            let refused = try run(["model", "interpolate", model, other, "--layer-alpha", malformed, mix])
            XCTAssertNotEqual(refused.status, 0, malformed)
            XCTAssertTrue(refused.error.contains("--layer-alpha"), refused.error)
        }
        let twice = try run([
            "model", "interpolate", model, other, "--layer-alpha", "body.0=0", "--layer-alpha", "body.0=1", mix,
        ])
        XCTAssertTrue(twice.error.contains("gives layer body.0 twice"), twice.error)
    }

    /// The 8-bit pixels of `bird-lr.png` upscaled with `arguments` into `name`.png (which must succeed).
    private func upscaled(_ arguments: [String], _ name: String) throws -> [UInt8] {
        let output = folder + "/" + name + ".png"
        let result = try run([sample("bird-lr.png"), output, "--quiet"] + arguments)
        XCTAssertEqual(result.status, 0, result.error)
        return try ImageFile.read(output).image.quantized(bits: 8).pixels.map { UInt8(($0 * 255).rounded()) }
    }

    /// The input's EXIF (Pillow's layout: orientation 8, camera, dates, GPS) reaches JPEG and PNG outputs
    /// upright and with the output's pixel size; --strip-metadata leaves it out.
    func testOutputsKeepTheInputsExifUnlessStripped() throws {
        let input = CLITests.repository + "/Tests/SRImageTests/Fixtures/exif-pillow.jpg"
        let original = try XCTUnwrap(ImageReader(path: input).description.metadata.exif)
        for name in ["out.jpg", "out.png", "stripped.jpg"] {
            let output = folder + "/" + name
            let strip = name.hasPrefix("stripped")
            let result = try run(
                [input, output, "--method", "bicubic", "--quiet"] + (strip ? ["--strip-metadata"] : []))
            XCTAssertEqual(result.status, 0, result.error)
            let description = try ImageReader(path: output).description
            XCTAssertEqual([description.width, description.height, description.orientation], [96, 160, 1], name)
            if strip {
                XCTAssertNil(description.metadata.exif, name)
            } else {
                XCTAssertEqual(description.metadata.exif, ExifBlock(original)?.forOutput(width: 96, height: 160), name)
            }
        }
        // A PNG's eXIf orientation is not applied, so it is kept as it was; the pixel size still changes.
        let png = folder + "/stored.png"
        try ImageFile.write(
            PlanarImage(width: 40, height: 24, channels: 3), to: png, metadata: ImageMetadata(exif: original))
        XCTAssertEqual(try run([png, folder + "/stored-x4.png", "--method", "bicubic", "--quiet"]).status, 0)
        let stored = try ImageReader(path: folder + "/stored-x4.png").description
        XCTAssertEqual([stored.width, stored.height], [160, 96])
        let block = try XCTUnwrap(stored.metadata.exif.flatMap(ExifBlock.init))
        XCTAssertEqual([block.orientation, block.value(of: 0xA002, inExifIFD: true)], [8, 160])
    }

    /// --tta averages the eight orientations per tile: it changes the output, small tiles give the same
    /// output as one large tile, and bicubic refuses it before any file is written.
    func testSelfEnsembleIsTiledExactlyAndNeedsAModel() throws {
        let psnr = CLITests.repository + "/weights/x4-psnr.safetensors"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: psnr))
        let plain = try upscaled(["--model", psnr], "plain")
        let ensemble = try upscaled(["--model", psnr, "--tta", "--tile", "128"], "tta")
        XCTAssertNotEqual(plain, ensemble)
        let small = try upscaled(["--model", psnr, "--tta", "--tile", "24"], "tta-small")
        XCTAssertLessThanOrEqual(zip(small, ensemble).map { abs(Int($0) - Int($1)) }.max()!, 1, "8-bit rounding only")
        let refused = try run([sample("bird-lr.png"), folder + "/b.png", "--method", "bicubic", "--tta"])
        XCTAssertEqual(refused.status, 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/b.png"))
    }

    /// A 300-dpi scan stays 300 dpi (as image editors keep it), in PNG and JPEG outputs.
    func testOutputsKeepTheStatedResolution() throws {
        let input = folder + "/scan.png"
        try ImageFile.write(
            PlanarImage(width: 8, height: 6, channels: 1), to: input,
            metadata: ImageMetadata(resolution: Resolution(x: 300, y: 300)))
        for name in ["scan-x2.png", "scan-x2.jpg"] {
            let result = try run([input, folder + "/" + name, "--method", "bicubic", "--scale", "2", "--quiet"])
            XCTAssertEqual(result.status, 0, result.error)
            let resolution = try XCTUnwrap(ImageReader(path: folder + "/" + name).description.metadata.resolution, name)
            XCTAssertEqual(resolution.x, 300, accuracy: 0.01, name)
        }
    }

    /// --width/--height give each output a size in pixels (the other side keeps the aspect ratio); a size over
    /// 64 times the input fails that file alone, and --scale with a size is a usage error.
    func testOutputsCanHaveASizeInPixels() throws {
        let upright = CLITests.repository + "/Tests/SRImageTests/Fixtures/exif-pillow.jpg"  // 24 × 40 upright
        for (input, arguments, expected) in [
            (sample("bird-lr.png"), ["--width", "100"], [100, 100]),
            (sample("bird-lr.png"), ["--height", "50", "--model", "psnr"], [50, 50]),
            (sample("bird-lr.png"), ["--width", "100", "--height", "40"], [100, 40]),
            (upright, ["--width", "48"], [48, 80]),
            (upright, ["--height", "100"], [60, 100]),
        ] {
            let output = folder + "/sized.png"
            let result = try run(
                [input, output, "--quiet"] + arguments
                    + (arguments.contains("--model") ? [] : ["--method", "bicubic"]))
            XCTAssertEqual(result.status, 0, result.error)
            let d = try ImageReader(path: output).description
            XCTAssertEqual([d.width, d.height], expected, "\(arguments)")
            try FileManager.default.removeItem(atPath: output)
        }
        let tooLarge = try run([sample("bird-lr.png"), folder + "/huge.png", "--width", "5000", "--method", "bicubic"])
        XCTAssertEqual(tooLarge.status, 1)
        XCTAssertTrue(
            tooLarge.error.contains("bird-lr.png") && tooLarge.error.contains("more than 64 times"), tooLarge.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/huge.png"))
        let both = try run([sample("bird-lr.png"), folder + "/b.png", "--scale", "2", "--width", "10"])
        XCTAssertEqual(both.status, 64)
    }

    /// The default ×4 model is `gan`, the realistic-degradation GAN; `gan-clean` is the clean-bicubic one;
    /// an unknown name is refused with the list of names.
    func testShippedModelNamesResolveToTheirFiles() throws {
        let weights = CLITests.repository + "/weights/"
        let (realistic, clean) = (weights + "x4-gan-realistic.safetensors", weights + "x4-gan.safetensors")
        try XCTSkipUnless(
            FileManager.default.fileExists(atPath: realistic) && FileManager.default.fileExists(atPath: clean))
        let byDefault = try upscaled([], "default")
        XCTAssertEqual(byDefault, try upscaled(["--model", "gan"], "gan"))
        XCTAssertEqual(byDefault, try upscaled(["--model", realistic], "realistic"))
        XCTAssertEqual(try upscaled(["--model", "gan-clean"], "clean"), try upscaled(["--model", clean], "file"))
        XCTAssertNotEqual(byDefault, try upscaled(["--model", "gan-clean"], "clean2"))
        let unknown = try run([sample("bird-lr.png"), folder + "/u.png", "--model", "ganx"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.error.contains("use gan, gan-clean, psnr"), unknown.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/u.png"))
    }

    /// `--detail D` runs D · GAN + (1 − D) · the faithful model its metadata names: 0 and 1 give exactly the
    /// two shipped models' outputs, 0.5 exactly what `model interpolate` writes; models without a partner and
    /// values outside 0...1 fail before any output exists.
    func testDetailBlendsTheGANWithItsFaithfulPartner() throws {
        let weights = CLITests.repository + "/weights/"
        let (gan, faithful) = (weights + "x4-gan.safetensors", weights + "x4-psnr-msrresnet.safetensors")
        try XCTSkipUnless(
            FileManager.default.fileExists(atPath: gan) && FileManager.default.fileExists(atPath: faithful))
        let ganOutput = try upscaled(["--model", gan], "gan"),
            faithfulOutput = try upscaled(["--model", faithful], "f")
        XCTAssertNotEqual(ganOutput, faithfulOutput)
        XCTAssertEqual(try upscaled(["--model", gan, "--detail", "1"], "d1"), ganOutput)
        XCTAssertEqual(try upscaled(["--model", gan, "--detail", "0"], "d0"), faithfulOutput)
        let mix = folder + "/mix.safetensors"
        XCTAssertEqual(try run(["model", "interpolate", gan, faithful, "--alpha", "0.5", mix]).status, 0)
        let half = try upscaled(["--model", gan, "--detail", "0.5"], "half")
        XCTAssertEqual(half, try upscaled(["--model", mix], "mix"))
        XCTAssertNotEqual(half, ganOutput)
        // The blend names its faithful partner too, so --detail works on it.
        XCTAssertEqual(try SafeTensors.read(path: mix).metadata["faithful"], "x4-psnr-msrresnet.safetensors")
        XCTAssertEqual(try upscaled(["--model", mix, "--detail", "0"], "mix0"), faithfulOutput)
        // --faithful names the partner itself (here, against the default, the GAN file, so --detail 0 gives it).
        let named = folder + "/named.safetensors"
        let nameIt = ["model", "interpolate", gan, mix, "--alpha", "0.5", named]
        XCTAssertEqual(try run(nameIt + ["--faithful", "x4-gan.safetensors"]).status, 0)
        XCTAssertEqual(try SafeTensors.read(path: named).metadata["faithful"], "x4-gan.safetensors")
        XCTAssertEqual(try upscaled(["--model", named, "--detail", "0"], "named0"), ganOutput)
        let refusedName = try run(nameIt + ["--faithful", "../x.safetensors"])
        XCTAssertEqual(refusedName.status, 64)
        XCTAssertTrue(refusedName.error.contains("plain file name"), refusedName.error)

        for (arguments, status) in [
            (["--model", faithful, "--detail", "0.5"], Int32(1)), (["--model", gan, "--detail", "1.5"], 64),
            (["--model", gan, "--detail", "nan"], 64), (["--method", "bicubic", "--detail", "0.5"], 64),
        ] {
            let output = folder + "/refused.png"
            let result = try run([sample("bird-lr.png"), output] + arguments)
            XCTAssertEqual(result.status, status, "\(arguments): \(result.error)")
            XCTAssertTrue(result.error.contains("detail"), result.error)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        }
    }

    func testMemoryBudgetAndJSONProgress() throws {
        let output = folder + "/budget.png"
        let result = try run([sample("bird-lr.png"), output, "--model", model, "--max-memory", "150", "--json"])
        XCTAssertEqual(result.status, 0, result.error)
        let events = result.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(events.last?["event"] as? String, "done")
        XCTAssertTrue(events.contains { $0["event"] as? String == "progress" })
        XCTAssertEqual(try ImageReader(path: output).description.width, 288)
        // The done event names the tile size the budget chose, or the one asked for.
        XCTAssertNotNil(events.last?["tile"] as? Int)
        let fixed = try run([sample("bird-lr.png"), folder + "/fixed.png", "--model", model, "--tile", "48", "--json"])
        let done = fixed.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.last
        XCTAssertEqual(done?["tile"] as? Int, 48, fixed.output)
    }

    func testTrainingCommandErrors() throws {
        let empty = folder + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let result = try run(["train", "--data", empty, "--output", folder + "/run", "--steps", "1"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.error.contains("no usable training images"), result.error)
        let missing = try run(["train", "--data", folder + "/nope", "--output", folder + "/run"])
        XCTAssertTrue(missing.error.contains("training folder does not exist"), missing.error)
        XCTAssertNotEqual(try run(["train"]).status, 0)
        let resume = try run(["train", "--resume", folder + "/nothing-here"])
        XCTAssertTrue(resume.error.contains("no checkpoint here"), resume.error)
        let both = try run(["train", "--data", empty, "--inputs", empty, "--degradation", "realistic"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.error.contains("--inputs"), both.error)
    }

    /// A new run defaults to the shipped models' layout (CompactResNet 48×8, ×4), and a run started from a
    /// model file with --init takes that file's layout.
    func testTrainingDefaultsToTheShippedLayoutAndFineTunesFromAFile() throws {
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sample("bird-lr.png"), toPath: data + "/a.png")
        let small = ["--steps", "1", "--batch-size", "1", "--patch-size", "32"]
        XCTAssertEqual(try run(["train", "--data", data, "--output", folder + "/run"] + small).status, 0)
        XCTAssertEqual(try run(["train", "--export", folder + "/run", folder + "/new.safetensors"]).status, 0)
        let info = try run(["model", "info", folder + "/new.safetensors"]).output
        XCTAssertTrue(info.contains("CompactResNet, scale ×4, features 48, blocks 8"), info)
        let tiny = folder + "/tiny.safetensors"
        XCTAssertEqual(
            try run(["model", "new", "--architecture", "msrresnet", "--features", "4", "--blocks", "1", tiny]).status, 0
        )
        let tune = try run(["train", "--data", data, "--output", folder + "/tune", "--init", tiny] + small)
        XCTAssertEqual(tune.status, 0, tune.error)
        XCTAssertEqual(try run(["train", "--export", folder + "/tune", folder + "/tuned.safetensors"]).status, 0)
        let tuned = try run(["model", "info", folder + "/tuned.safetensors"]).output
        XCTAssertTrue(tuned.contains("MSRResNet, scale ×4, features 4, blocks 1"), tuned)
    }

    /// `--train-layers` trains only the named layers: every other tensor of the generator and of its EMA keeps
    /// --init's exact values, through a resume too; an unknown layer is refused before the run folder exists.
    func testTrainLayersLeavesTheOtherLayersExactlyAsInitialised() throws {
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sample("bird-lr.png"), toPath: data + "/a.png")
        let small = ["--batch-size", "1", "--patch-size", "32", "--learning-rate", "1e-2"]
        let run1 = try run(
            [
                "train", "--data", data, "--output", folder + "/tail", "--init", model, "--train-layers",
                "body.0.conv2,conv_last", "--steps", "2",
            ] + small)
        XCTAssertEqual(run1.status, 0, run1.error)
        let resumed = try run(["train", "--resume", folder + "/tail", "--steps", "4"])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        for output in [run1.output, resumed.output] {
            XCTAssertTrue(output.contains("; only body.0.conv2, conv_last learn)"), output)
        }
        XCTAssertEqual(try run(["train", "--export", folder + "/tail", folder + "/tail.safetensors"]).status, 0)
        let start = try SafeTensors.read(path: model).tensors
        for file in [folder + "/tail.safetensors", folder + "/tail/checkpoint/generator.safetensors"] {
            var moved: Set<String> = []
            for (name, tensor) in try SafeTensors.read(path: file).tensors {
                if tensor.scalars != start[name]!.scalars { moved.insert(name) }
            }
            XCTAssertEqual(
                moved, ["body.0.conv2.weight", "body.0.conv2.bias", "conv_last.weight", "conv_last.bias"], file)
        }
        for (layers, message) in [
            ("body.9", "no layer \"body.9\""), ("conv", "no layer \"conv\""), ("conv_last,", "--train-layers takes"),
        ] {
            let refused = try run(
                [
                    "train", "--data", data, "--output", folder + "/bad", "--init", model, "--train-layers", layers,
                    "--steps", "1",
                ] + small)
            XCTAssertNotEqual(refused.status, 0, layers)
            XCTAssertTrue(refused.error.contains(message), refused.error)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/bad"), layers)
        }
    }

    func testEvalJSONAndModelInfo() throws {
        let set5 = URL(fileURLWithPath: CLITests.repository).deletingLastPathComponent().appendingPathComponent(
            "shared/data/bench/Set5"
        ).path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: set5))
        let result = try run(["eval", "--data", set5, "--scale", "4", "--method", "bicubic", "--json"])
        XCTAssertEqual(result.status, 0, result.error)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        XCTAssertEqual(object["mean_psnr"] as? Double ?? 0, 28.43, accuracy: 0.02)
        XCTAssertEqual((object["images"] as? [Any])?.count, 5)
        let info = try run(["model", "info", model])
        XCTAssertTrue(info.output.contains("exact overlap:    5 input pixels"), info.output)
    }

    /// `degrade` writes what training would see: the same seed gives the same bytes, another seed other
    /// bytes, alpha survives, and bad settings or an output equal to the input are refused up front.
    func testDegradeIsReproducibleAndKeepsAlpha() throws {
        let (a, b, c) = (folder + "/a.png", folder + "/b.png", folder + "/c.png")
        for (path, seed) in [(a, "5"), (b, "5"), (c, "6")] {
            let result = try run(["degrade", sample("bird-lr.png"), path, "--scale", "4", "--seed", seed])
            XCTAssertEqual(result.status, 0, result.error)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: c)))
        let d = try ImageReader(path: a).description
        XCTAssertEqual([d.width, d.height, d.channels], [18, 18, 3])
        let alpha = folder + "/alpha.png"
        XCTAssertEqual(try run(["degrade", sample("butterfly-alpha.png"), alpha, "--scale", "2"]).status, 0)
        XCTAssertEqual(try ImageReader(path: alpha).description.channels, 4)

        let settings = folder + "/settings.json"
        try #"{"jpeg1": {"low": 95, "high": 20}}"#.write(toFile: settings, atomically: true, encoding: .utf8)
        let refused = try run(["degrade", sample("bird-lr.png"), folder + "/x.png", "--degradation", settings])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.error.contains(settings), refused.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/x.png"))
        let copy = folder + "/copy.png"
        try FileManager.default.copyItem(atPath: sample("bird-lr.png"), toPath: copy)
        let before = try Data(contentsOf: URL(fileURLWithPath: copy))
        XCTAssertNotEqual(try run(["degrade", copy, copy]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), before, "the input is never overwritten")
    }

    /// `eval --degradation realistic --seed N` scores reproducibly, below the clean protocol's score.
    func testEvalOnRealisticDegradationsIsReproducible() throws {
        let set5 = URL(fileURLWithPath: CLITests.repository).deletingLastPathComponent().appendingPathComponent(
            "shared/data/bench/Set5"
        ).path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: set5))
        func meanPSNR(_ extra: [String]) throws -> Double {
            let result = try run(["eval", "--data", set5, "--scale", "4", "--method", "bicubic", "--json"] + extra)
            XCTAssertEqual(result.status, 0, result.error)
            let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
            return try XCTUnwrap(object?["mean_psnr"] as? Double)
        }
        let clean = try meanPSNR([])
        let first = try meanPSNR(["--degradation", "realistic", "--seed", "3"])
        XCTAssertEqual(first, try meanPSNR(["--degradation", "realistic", "--seed", "3"]))
        XCTAssertNotEqual(first, try meanPSNR(["--degradation", "realistic", "--seed", "4"]))
        XCTAssertLessThan(first, clean)
    }

    /// `--png-compression` trades file size for speed; the pixels are the same at every level.
    func testPNGCompressionLevelChangesSizeNotPixels() throws {
        var sizes: [Int] = []
        var images: [PlanarImage] = []
        for level in ["0", "9"] {
            let output = folder + "/level\(level).png"
            let result = try run([
                sample("bird-lr.png"), output, "--scale", "2", "--method", "bicubic", "--png-compression", level,
            ])
            XCTAssertEqual(result.status, 0, result.error)
            sizes.append(try FileManager.default.attributesOfItem(atPath: output)[.size] as! Int)
            images.append(try ImageFile.read(output).image)
        }
        XCTAssertGreaterThan(sizes[0], sizes[1] * 3 / 2, "level 0 stores, level 9 compresses")
        XCTAssertEqual(images[0], images[1])
    }

    /// `eval --niqe --save DIR` adds a NIQE column (and JSON a grid score) and keeps the outputs; the ground truth itself (×1
    /// through bicubic, i.e. unchanged) scores as more natural than its bicubic ×4 reconstruction.
    func testEvalNIQEAndSave() throws {
        let set5 = URL(fileURLWithPath: CLITests.repository).deletingLastPathComponent().appendingPathComponent(
            "shared/data/bench/Set5"
        ).path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: set5))
        let saved = folder + "/saved"
        let result = try run([
            "eval", "--data", set5, "--scale", "4", "--method", "bicubic", "--json", "--niqe", "--save", saved,
        ])
        XCTAssertEqual(result.status, 0, result.error)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let bicubic = try XCTUnwrap(object["mean_niqe"] as? Double)
        let images = try XCTUnwrap(object["images"] as? [[String: Any]])
        XCTAssertTrue(images.allSatisfy { $0["niqe"] is Double && $0["grid"] is Double })
        // Bicubic's own phase pattern: above 0, far below the 3 of exact 4×4 blocks.
        XCTAssertEqual(try XCTUnwrap(object["mean_grid"] as? Double), 0.15, accuracy: 0.1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: saved).sorted().count, 5)
        let identity = try run(["eval", "--data", set5, "--scale", "1", "--method", "bicubic", "--json", "--niqe"])
        let original = try XCTUnwrap(
            (JSONSerialization.jsonObject(with: Data(identity.output.utf8)) as? [String: Any])?["mean_niqe"] as? Double)
        XCTAssertLessThan(original, bicubic)
        XCTAssertNotEqual(try run(["eval", "--data", set5, "--save", folder + "/no/such/place"]).status, 0)
    }

    /// A model from another tool (Real-ESRGAN's SRVGGNetCompact state dict, no metadata of ours) runs through
    /// the streaming engine: tiled output equals the whole-image forward, and `model info` describes it.
    func testForeignSRVGGNetCompactRunsThroughTheEngine() throws {
        let model = CLITests.repository + "/Tests/SRModelsTests/Fixtures/tiny_srvgg_x4.safetensors"
        let output = folder + "/srvgg.png"
        let result = try run([sample("bird-lr.png"), output, "--model", model, "--tile", "16", "--quiet"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertLessThanOrEqual(
            try differenceFromWholeImage(model: model, output: output), 0.51 / 255,
            "tiled streaming output equals the whole-image forward")
        let info = try run(["model", "info", model])
        XCTAssertTrue(info.output.contains("SRVGGNetCompact"), info.output)
        XCTAssertTrue(info.output.contains("exact overlap:    4"), info.output)
        // The .pth of the same weights, converted to our format, gives the same bytes out.
        let pth = CLITests.repository + "/Tests/SRModelsTests/Fixtures/tiny_srvgg_x4.pth"
        try assertConvertedGivesTheSameBytes(pth, as: output)
        XCTAssertNotEqual(
            try run(["model", "export", pth, folder + "/x.txt"]).status, 0, "export needs .onnx or .param")
        XCTAssertEqual(try run(["model", "export", pth, folder + "/x.onnx"]).status, 0)
        let refused = try run(["model", "info", CLITests.repository + "/Tests/SRModelsTests/Fixtures/malicious.pth"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.error.contains("refusing pickle global"), refused.error)
    }

    /// ESRGAN's RRDBNet (BasicSR names, no metadata) runs through the engine: with its exact overlap the
    /// tiled output equals the whole-image forward; by default the overlap is capped at 32 and blended.
    func testRRDBNetRunsThroughTheEngine() throws {
        let model = CLITests.repository + "/Tests/SRModelsTests/Fixtures/tiny_rrdb_x4.safetensors"
        let info = try run(["model", "info", model])
        XCTAssertTrue(info.output.contains("RRDBNet"), info.output)
        XCTAssertTrue(info.output.contains("exact overlap:    34"), info.output)
        let exact = folder + "/rrdb-exact.png"
        let result = try run([
            sample("bird-lr.png"), exact, "--model", model, "--tile", "24", "--overlap", "34", "--quiet",
        ])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertLessThanOrEqual(try differenceFromWholeImage(model: model, output: exact), 0.51 / 255)
        XCTAssertEqual(try run([sample("bird-lr.png"), folder + "/rrdb.png", "--model", model, "--quiet"]).status, 0)
        // Converted to our format (which records "RRDBNet"), it loads again and gives the same bytes.
        let tiled = folder + "/rrdb-tile16.png"
        XCTAssertEqual(
            try run([sample("bird-lr.png"), tiled, "--model", model, "--tile", "16", "--quiet"]).status, 0)
        try assertConvertedGivesTheSameBytes(model, as: tiled)
        // ×4 and ×2 (unshuffled input, padded and cropped inside the graph) export to ONNX (checked in ONNX
        // Runtime by `make bench-peers`).
        XCTAssertEqual(try run(["model", "export", model, folder + "/rrdb.onnx"]).status, 0)
        let x2 = CLITests.repository + "/Tests/SRModelsTests/Fixtures/tiny_rrdb_x2.safetensors"
        let exported = try run(["model", "export", x2, folder + "/rrdb-x2.onnx"])
        XCTAssertEqual(exported.status, 0, exported.error)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/rrdb-x2.onnx"))
        // ×2 unshuffles by 2: an odd image with odd tiles runs (it used to trap) and equals the whole image.
        let odd = folder + "/odd.png"
        try ImageFile.write(
            try ImageFile.read(sample("bird-lr.png")).image.rgb().cropped(x: 0, y: 0, width: 45, height: 31), to: odd)
        for tile in ["9", "64"] {
            let output = folder + "/odd-x2-\(tile).png"
            let oddResult = try run([odd, output, "--model", x2, "--scale", "2", "--tile", tile, "--quiet"])
            XCTAssertEqual(oddResult.status, 0, oddResult.error)
            XCTAssertLessThanOrEqual(try differenceFromWholeImage(model: x2, output: output, input: odd), 0.51 / 255)
        }
    }

    /// SPAN from a BasicSR .pth runs through the streaming engine: `model info` names it, the tiled output with
    /// its exact overlap equals the whole-image forward, converted it gives the same bytes, and it exports.
    func testSPANRunsThroughTheEngine() throws {
        try assertForeignModelRunsThroughTheEngine(
            "tiny_span_x4.pth", info: "SPAN, scale ×4, features 8, blocks 6", exactOverlap: 21)
    }

    /// An ncnn graph (.param/.bin, every supported layer type) runs through the streaming engine with its
    /// exact overlap from the graph: tiled output equals the whole-image forward; converted, it gives the same bytes.
    func testNCNNGraphRunsThroughTheEngine() throws {
        try assertForeignModelRunsThroughTheEngine("tiny_ncnn_x4.param", info: "ncnn graph", exactOverlap: 5)
    }

    /// Checks a fixture model through the CLI: `model info` shows `info` and its exact overlap; upscaling
    /// `bird-lr.png` in 16-pixel tiles equals the whole-image forward; `model convert`ed, it gives the same bytes;
    /// `model export` writes an ONNX graph (ONNX Runtime's agreement is checked by `make bench-peers`).
    func assertForeignModelRunsThroughTheEngine(
        _ fixture: String, info expected: String, exactOverlap: Int, file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let model = CLITests.repository + "/Tests/SRModelsTests/Fixtures/" + fixture
        let info = try run(["model", "info", model])
        XCTAssertTrue(info.output.contains(expected), info.output, file: file, line: line)
        XCTAssertTrue(info.output.contains("exact overlap:    \(exactOverlap) "), info.output, file: file, line: line)
        let output = folder + "/\(fixture).png"
        let result = try run([sample("bird-lr.png"), output, "--model", model, "--tile", "16", "--quiet"])
        XCTAssertEqual(result.status, 0, result.error, file: file, line: line)
        XCTAssertLessThanOrEqual(
            try differenceFromWholeImage(model: model, output: output), 0.51 / 255, file: file, line: line)
        try assertConvertedGivesTheSameBytes(model, as: output, file: file, line: line)
        let onnx = folder + "/\(fixture).onnx"
        XCTAssertEqual(try run(["model", "export", model, onnx]).status, 0, file: file, line: line)
        XCTAssertGreaterThan(try Data(contentsOf: URL(fileURLWithPath: onnx)).count, 3_000, file: file, line: line)
    }

    /// `train --init` takes a shipped model's name (the ×2 one with --scale 2) to fine-tune it; an unknown name
    /// is one line, before the run folder exists.
    func testTrainFineTunesAShippedModelByName() throws {
        let data = folder + "/photos"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sample("bird-lr.png"), toPath: data + "/bird.png")
        for (arguments, expected) in [
            (["--init", "psnr"], "CompactResNet 48 features × 8 blocks ×4"),
            (["--init", "psnr", "--scale", "2"], "CompactResNet 32 features × 8 blocks ×2"),
        ] {
            let result = try run(
                ["train", "--data", data, "--output", folder + "/run-\(arguments.count)", "--steps", "1"]
                    + ["--batch-size", "1", "--patch-size", "32"] + arguments)
            XCTAssertEqual(result.status, 0, result.error)
            XCTAssertTrue(result.output.contains(expected), result.output)
        }
        let unknown = try run(["train", "--data", data, "--output", folder + "/nope", "--init", "psnr-x9"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.error.contains("psnr-x9"), unknown.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/nope"))
    }

    /// The shipped default exports as ncnn files (for Upscayl or realesrgan-ncnn-vulkan) that upscale itself
    /// reads back to the same image within 1/255; the two files are named in one line.
    func testShippedModelExportsAsNCNNFiles() throws {
        let param = folder + "/x4-gan.param"
        let exported = try run(["model", "export", "gan", param])
        XCTAssertEqual(exported.status, 0, exported.error)
        XCTAssertTrue(exported.output.contains("x4-gan.param and \(folder)/x4-gan.bin"), exported.output)
        let (ours, theirs) = (folder + "/gan.png", folder + "/gan-ncnn.png")
        XCTAssertEqual(try run([sample("bird-lr.png"), ours, "--model", "gan", "--quiet"]).status, 0)
        XCTAssertEqual(try run([sample("bird-lr.png"), theirs, "--model", param, "--quiet"]).status, 0)
        let (a, b) = (try ImageFile.read(ours).image, try ImageFile.read(theirs).image)
        XCTAssertEqual([a.width, a.height], [b.width, b.height])
        let largest = zip(a.pixels, b.pixels).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(largest, 1.01 / 255)
        let refused = try run(["model", "export", "gan", folder + "/x4.bin"])
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.error.contains("must end in .onnx or .param"), refused.error)
    }

    /// `model convert`s `model` to our safetensors format and checks that upscaling `bird-lr.png` with it (tile 16)
    /// writes exactly the bytes of `output`, made from the original file.
    func assertConvertedGivesTheSameBytes(
        _ model: String, as output: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let converted = folder + "/converted-\(UUID().uuidString).safetensors"
        XCTAssertEqual(try run(["model", "convert", model, converted]).status, 0, file: file, line: line)
        let again = folder + "/again-\(UUID().uuidString).png"
        XCTAssertEqual(
            try run([sample("bird-lr.png"), again, "--model", converted, "--tile", "16", "--quiet"]).status, 0,
            file: file, line: line)
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: again)), try Data(contentsOf: URL(fileURLWithPath: output)),
            file: file, line: line)
    }

    /// Largest difference between a CLI output of `bird-lr.png` and the model's whole-image forward of it.
    func differenceFromWholeImage(model: String, output: String, input path: String? = nil) throws -> Float {
        let input = try ImageFile.read(path ?? sample("bird-lr.png")).image
        var tensor = Tensor(zeros: [1, 3, input.height, input.width])
        tensor.scalars = Array(input.pixels[0..<(3 * input.width * input.height)])
        let whole = try ModelFile.load(path: model).inference(tensor)
        let tiled = try ImageFile.read(output).image
        var largest: Float = 0
        for i in 0..<whole.count { largest = max(largest, abs(min(max(whole.scalars[i], 0), 1) - tiled.pixels[i])) }
        return largest
    }
}
