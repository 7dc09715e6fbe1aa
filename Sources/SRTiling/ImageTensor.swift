import SRImage
import SRTensor

extension Tensor {
    /// A [1, C, H, W] tensor holding an image's planes.
    public init(image: PlanarImage) {
        self.init(shape: [1, image.channels, image.height, image.width], scalars: image.pixels)
    }
}

extension PlanarImage {
    /// The image at `index` of an [N, C, H, W] tensor.
    public init(tensor: Tensor, index: Int = 0) {
        let (c, h, w) = (tensor.shape[1], tensor.shape[2], tensor.shape[3])
        let size = c * h * w
        self.init(
            width: w, height: h, channels: c, pixels: Array(tensor.scalars[(index * size)..<((index + 1) * size)]))
    }
}
