import Foundation
import SRImage
import XCTest

/// Checks shared by the codec tests whose fixtures come with a JSON file of expected pixels.
extension XCTestCase {
    /// Every file in `folder/json` decodes to its pixels (interleaved, display order, read in bands of 3 rows, at
    /// its `bitDepth`, 8 when not given) with its size and channels, or fails with its message and its name.
    func checkExpectedPixels(folder: String, json: String, files: Int, format: ImageFormat) throws {
        let expected = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/" + json)))
                as? [String: [String: Any]])
        XCTAssertEqual(expected.count, files)
        for (name, entry) in expected {
            let path = folder + "/" + name
            if let message = entry["error"] as? String {
                XCTAssertThrowsError(try ImageReader(path: path).readAll(), name) { error in
                    XCTAssertTrue("\(error)".contains(name) && "\(error)".contains(message), "\(error)")
                }
                continue
            }
            let reader = try ImageReader(path: path)
            let d = reader.description
            XCTAssertEqual(d.format, format, name)
            let bitDepth = entry["bitDepth"] as? Int ?? 8
            XCTAssertEqual(
                [d.width, d.height, d.channels, d.bitDepth],
                [entry["width"], entry["height"], entry["channels"], bitDepth].map { $0 as? Int }, name)
            let maximum = Float((1 << bitDepth) - 1)
            var values: [Int] = []
            while reader.rowsRead < d.height {
                let band = try reader.readRows(3)
                let plane = band.width * band.height
                values += (0..<plane).flatMap { i in
                    (0..<band.channels).map { Int((band.pixels[$0 * plane + i] * maximum).rounded()) }
                }
            }
            XCTAssertEqual(values, entry["pixels"] as? [Int], name)
        }
    }

    /// Every truncation of `original` and every single byte set to 0xFF either decodes whole or fails with one
    /// line naming the file, never a crash or a hang; returns how many truncations failed.
    func truncationFailures(of original: [UInt8], at path: String) throws -> Int {
        let name = (path as NSString).lastPathComponent
        func attempt(_ bytes: [UInt8]) throws -> Bool {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let reader = try ImageReader(path: path)
                let image = try reader.readAll()
                XCTAssertEqual(image.width * image.height, reader.description.width * reader.description.height)
                return false
            } catch let error as ImageError {
                XCTAssertTrue("\(error)".contains(name), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"))
                return true
            }
        }
        var failures = 0
        for length in 0..<original.count where try attempt(Array(original[0..<length])) { failures += 1 }
        for position in 0..<original.count {
            var bytes = original
            bytes[position] = 0xFF
            _ = try attempt(bytes)
        }
        return failures
    }
}
