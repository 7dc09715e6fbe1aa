"""Cuts the VGG16 ImageNet weights (Caffe convention) from ../../shared/weights-candidates down to the
layers the perceptual loss can use (all thirteen, conv1_1 .. conv5_3) and stores them as float16 safetensors.
Source, licence and checksums: ../../shared/weights-candidates/SOURCES.md (CC BY 4.0, Simonyan & Zisserman)."""
import numpy as np
from safetensors.numpy import load_file, save_file

source = "../../shared/weights-candidates/vgg16_imagenet_caffe_conv1_1-conv5_3.safetensors"
keep = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2", "conv4_3",
        "conv5_1", "conv5_2", "conv5_3"]
tensors = load_file(source)
cut = {f"{name}.{kind}": tensors[f"{name}.{kind}"].astype(np.float16) for name in keep for kind in ("weight", "bias")}
save_file(cut, "vgg16_caffe_conv1_1-conv5_3_f16.safetensors", metadata={
    "network": "VGG16 (ImageNet), convolutions conv1_1..conv5_3",
    "convention": "Caffe: BGR input, 0-255, minus mean (B,G,R) = (103.939, 116.779, 123.68)",
    "license": "CC BY 4.0, K. Simonyan and A. Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015",
    "source": "vgg16_imagenet_caffe_conv1_1-conv5_3.safetensors (sha256 60c92118ea9dd7061be806b69986259c900f9920552ec32b91ead19c1e3a654d), cast to float16",
})
