"""The UGPCL network (encoders, CNN and Swin decoders, projection and rotation heads)."""

from ugpcl_engine.model.resnet import load_resnet50_weights
from ugpcl_engine.model.ugpcl_net import NetOutput, UGPCLNet, build_model

__all__ = ["NetOutput", "UGPCLNet", "build_model", "load_resnet50_weights"]
