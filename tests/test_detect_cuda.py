"""Detection on a CUDA device: training (fp32 and bf16 autocast), evaluation and timing there,
and a detector trained on the GPU that loads and detects alike on the CPU. Skipped without one."""
import pytest
import torch

from cnnspace import get_spec
from cnnspace.detect import (DETECTOR_FILE, Detector, evaluate_detector, measure_fps, open_data,
                             train_detector)
from cnnspace.train import TrainConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_detector_trained_on_the_gpu_evaluates_alike_on_either_device(tmp_path, precision):
    data = open_data("shapes:48", (64, 64), data_dir=str(tmp_path / "shapes"), progress=False)
    spec = get_spec("squeezedet", num_classes=3, input="3x64x64", anchors_per_cell=3, dropout=0)
    config = TrainConfig(epochs=2, batch_size=8, device="cuda", precision=precision,
                         out=str(tmp_path / "run"), progress=False)
    _, result = train_detector(spec, data, config, positive_iou=0.5)
    assert result.final["mAP"] is not None
    detector = Detector.load(tmp_path / "run" / DETECTOR_FILE)  # mapped to the CPU
    on_cpu = evaluate_detector(detector, data.val).map
    detector.module.cuda()
    on_gpu = evaluate_detector(detector, data.val).map
    # recorded at the end of training (on the GPU) and measured again on either device
    assert on_gpu == pytest.approx(result.final["mAP"], abs=0.02)
    assert on_cpu == pytest.approx(on_gpu, abs=0.02)
    speed = measure_fps(detector, data.val[0], min_time_s=0.05)
    assert speed["device"].startswith("cuda") and speed["fps_network"] > 0
