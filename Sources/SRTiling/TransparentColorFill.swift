import SRImage

/// Gives fully transparent pixels the colour of the visible pixels around them before anything is resized.
///
/// In straight (non-premultiplied) alpha, the colour stored under alpha 0 is never shown and is often black
/// or a leftover; a filter or a model reading across the edge would pull it into the visible pixels (the dark
/// or coloured fringes users see around cut-outs and sprites). Here every pixel with alpha 0 within `radius`
/// pixels of a visible one (alpha > 0) takes, in the pass that first reaches it, the mean colour of its
/// already coloured 8 neighbours; one pass per pixel of distance. Farther pixels keep their colour: with
/// `radius` at least the reach of the resampling or of the model's receptive field they influence no
/// visible output pixel.
///
/// Streams: a band is filled inside a window with `radius` more rows on each side, which gives exactly what
/// filling the whole image at once gives.
final class TransparentColorFill: RowSource {
    private let source: RowSource
    private let height: Int
    private let radius: Int
    /// Unfilled rows read so far that later bands still need, starting at image row `windowStart`.
    private var window: PlanarImage
    private var windowStart = 0
    /// The next row to hand out.
    private var next = 0

    /// - Parameters:
    ///   - source: rows with 2 (gray + alpha) or 4 (RGBA) channels.
    ///   - radius: how far from a visible pixel colours are filled in, ≥ 1.
    init(source: RowSource, width: Int, height: Int, channels: Int, radius: Int) {
        precondition(channels == 2 || channels == 4, "only images with alpha need filling")
        precondition(radius >= 1, "the fill radius must be at least 1")
        self.source = source
        self.height = height
        self.radius = radius
        window = PlanarImage(width: width, height: 0, channels: channels)
    }

    func readRows(_ count: Int) throws -> PlanarImage {
        let count = min(count, height - next)
        guard count > 0 else { return PlanarImage(width: window.width, height: 0, channels: window.channels) }
        let needed = min(height, next + count + radius)
        while windowStart + window.height < needed {
            let band = try source.readRows(needed - windowStart - window.height)
            guard band.height > 0 else { break }
            window = window.appendingRows(of: band)
        }
        // Rows above next − radius are no longer needed by any band.
        let drop = max(0, next - radius - windowStart)
        if drop > 0 {
            window = window.rows(drop..<window.height)
            windowStart += drop
        }
        let filled = TransparentColorFill.fill(window, radius: radius)
        let rows = filled.rows((next - windowStart)..<min(window.height, next - windowStart + count))
        next += rows.height
        return rows
    }

    /// `image` with the colour of its alpha-0 pixels filled in from visible ones, up to `radius` pixels away.
    /// Each pass visits only the pixels next to those coloured in the pass before.
    static func fill(_ image: PlanarImage, radius: Int) -> PlanarImage {
        let (width, height) = (image.width, image.height)
        let plane = width * height
        let colors = image.channels - 1
        var known = (0..<plane).map { image.pixels[colors * plane + $0] > 0 }
        guard known.contains(false), known.contains(true) else { return image }
        var out = image
        /// Pass in which a pixel was last queued, so that each is queued once per pass.
        var queued = [Int32](repeating: -1, count: plane)
        func neighbours(of index: Int, _ body: (Int) -> Void) {
            let (y, x) = (index / width, index % width)
            for ny in max(0, y - 1)...min(height - 1, y + 1) {
                for nx in max(0, x - 1)...min(width - 1, x + 1) where ny != y || nx != x { body(ny * width + nx) }
            }
        }
        var frontier: [Int] = []
        for index in 0..<plane where !known[index] {
            var touches = false
            neighbours(of: index) { touches = touches || known[$0] }
            if touches { frontier.append(index) }
        }
        var colours: [Float] = []
        for pass in 0..<radius where !frontier.isEmpty {
            colours.removeAll(keepingCapacity: true)
            for index in frontier {
                var sum: (Float, Float, Float) = (0, 0, 0)
                var count: Float = 0
                neighbours(of: index) { neighbour in
                    guard known[neighbour] else { return }
                    sum.0 += out.pixels[neighbour]
                    if colors == 3 {
                        sum.1 += out.pixels[plane + neighbour]
                        sum.2 += out.pixels[2 * plane + neighbour]
                    }
                    count += 1
                }
                colours.append(sum.0 / count)
                colours.append(sum.1 / count)
                colours.append(sum.2 / count)
            }
            for (k, index) in frontier.enumerated() {
                for c in 0..<colors { out.pixels[c * plane + index] = colours[3 * k + c] }
                known[index] = true
            }
            var following: [Int] = []
            for index in frontier {
                neighbours(of: index) { neighbour in
                    if !known[neighbour] && queued[neighbour] != Int32(pass) {
                        queued[neighbour] = Int32(pass)
                        following.append(neighbour)
                    }
                }
            }
            frontier = following
        }
        return out
    }
}
