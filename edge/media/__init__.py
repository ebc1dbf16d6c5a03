"""Event media: frame rings, face blurring, H.264 clips and uploads to central."""

from __future__ import annotations

from edge.face_settings import FaceBlurSettings
from edge.media.clip import ClipEncodeError, EncodedClip, EncodeSettings, encode_mp4
from edge.media.faces import FaceBlur, FaceDetector, FaceModelError, face_blur_settings
from edge.media.recorder import Clip, ClipRecorder, ClipRequest
from edge.media.ring import BufferedFrame, FrameRing
from edge.media.stage import MediaPipeline, clip_dir, require_face_model
from edge.media.store import LocalClipStore
from edge.media.uploader import MediaUploader, UploadOutcome, read_token

__all__ = [
    "BufferedFrame",
    "Clip",
    "ClipEncodeError",
    "ClipRecorder",
    "ClipRequest",
    "EncodeSettings",
    "EncodedClip",
    "FaceBlur",
    "FaceBlurSettings",
    "FaceDetector",
    "FaceModelError",
    "FrameRing",
    "LocalClipStore",
    "MediaPipeline",
    "MediaUploader",
    "UploadOutcome",
    "clip_dir",
    "encode_mp4",
    "face_blur_settings",
    "read_token",
    "require_face_model",
]
