"""SSC-ResNet: shapes, parameter groups, encoders by name, and the offline ImageNet error."""

from __future__ import annotations

import time

import pytest
import torch

from busmtl.models import SSCResNet

SMALL = {"encoder": "resnet18", "decoder_channels": (32, 16, 16, 8, 8)}


def test_forward_shapes():
    model = SSCResNet(**SMALL, num_classes=3).eval()
    seg, cls = model(torch.zeros(2, 3, 64, 64))
    assert seg.shape == (2, 1, 64, 64) and cls.shape == (2, 3)


def test_default_is_resnet34_with_dropout_point_three():
    model = SSCResNet()
    assert model.encoder_name == "resnet34"
    dropouts = [m.p for m in model.unet.classification_head.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.3]


def test_parameter_groups_partition_the_model():
    model = SSCResNet(**SMALL)
    shared = {id(p) for p in model.shared_parameters()}
    last = {id(p) for p in model.last_shared_parameters()}
    specific = {id(p) for p in model.task_specific_parameters()}
    everything = {id(p) for p in model.parameters()}
    assert last <= shared and len(last) == 1
    assert not shared & specific and shared | specific == everything


def test_last_shared_layer_is_layer4_last_conv_for_resnets():
    model = SSCResNet(**SMALL)
    assert model.last_shared_parameters()[0] is model.unet.encoder.layer4[-1].conv2.weight


def test_one_channel_input_and_other_encoders_by_name():
    model = SSCResNet(encoder="resnet18", in_channels=1, decoder_channels=(16, 8, 8, 8, 8)).eval()
    assert model(torch.zeros(1, 1, 32, 32))[0].shape == (1, 1, 32, 32)
    mobile = SSCResNet(encoder="mobilenet_v2", decoder_channels=(16, 8, 8, 8, 8)).eval()
    assert mobile(torch.zeros(1, 3, 32, 32))[1].shape == (1, 2)


def test_unknown_encoder_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown encoder 'resnet999'.*resnet34"):
        SSCResNet(encoder="resnet999")


def _empty_caches(tmp_path, monkeypatch) -> None:
    """Point the Hugging Face and torch hub caches at empty temporary folders."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_missing_imagenet_weights_fail_fast_with_instructions(tmp_path, monkeypatch):
    _empty_caches(tmp_path, monkeypatch)
    monkeypatch.setenv("BUSMTL_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as exc:
        SSCResNet(encoder="resnet34", encoder_weights="imagenet")
    assert time.perf_counter() - start < 10
    message = str(exc.value)
    assert "resnet34" in message and "huggingface-cli download" in message
    assert "encoder_weights=None" in message
    assert "resnet34-b627a593.pth" in message and str(tmp_path / "torch") in message


def test_imagenet_weights_found_in_the_torch_hub_cache(tmp_path, monkeypatch):
    """torchvision's checkpoint under $TORCH_HOME/hub/checkpoints is used, without network."""
    _empty_caches(tmp_path, monkeypatch)
    monkeypatch.setenv("BUSMTL_OFFLINE", "1")
    donor = SSCResNet(**SMALL)
    state = dict(donor.unet.encoder.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)  # as torchvision
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(state, folder / "resnet18-f37072fd.pth")
    model = SSCResNet(**SMALL, encoder_weights="imagenet")
    assert torch.equal(model.unet.encoder.layer4[-1].conv2.weight, donor.unet.encoder.layer4[-1].conv2.weight)


def test_imagenet_weights_found_in_the_hf_cache_named_at_call_time(tmp_path, monkeypatch):
    """The Hugging Face cache is read from the environment at call time, not at import."""
    import segmentation_models_pytorch as smp
    from safetensors.torch import save_file

    _empty_caches(tmp_path, monkeypatch)
    monkeypatch.setenv("BUSMTL_OFFLINE", "1")
    settings = smp.encoders.encoders["resnet18"]["pretrained_settings"]["imagenet"]
    snapshot = (
        tmp_path / "hf" / "hub" / f"models--{settings['repo_id'].replace('/', '--')}"
        / "snapshots" / settings["revision"]
    )
    snapshot.mkdir(parents=True)
    donor = SSCResNet(**SMALL)
    save_file({k: v.contiguous() for k, v in donor.unet.encoder.state_dict().items()},
              str(snapshot / "model.safetensors"))
    model = SSCResNet(**SMALL, encoder_weights="imagenet")
    assert torch.equal(model.unet.encoder.conv1.weight, donor.unet.encoder.conv1.weight)


def test_missing_weights_without_offline_flag_still_do_not_hang(tmp_path, monkeypatch):
    """No network here: the connectivity probe times out quickly instead of hanging."""
    _empty_caches(tmp_path, monkeypatch)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("BUSMTL_OFFLINE", raising=False)
    import busmtl.models.ssc_resnet as m

    monkeypatch.setattr(m, "hub_reachable", lambda timeout=m.PROBE_TIMEOUT_S: False)
    with pytest.raises(FileNotFoundError, match="cannot be downloaded here"):
        SSCResNet(encoder="resnet18", encoder_weights="imagenet")


def test_weights_from_a_local_file(tmp_path):
    donor = SSCResNet(**SMALL)
    path = tmp_path / "encoder.pt"
    torch.save(donor.unet.encoder.state_dict(), path)
    model = SSCResNet(**SMALL, encoder_weights=str(path))
    assert torch.equal(model.unet.encoder.conv1.weight, donor.unet.encoder.conv1.weight)


def test_real_probe_is_bounded(monkeypatch):
    import busmtl.models.ssc_resnet as m

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("BUSMTL_OFFLINE", raising=False)
    start = time.perf_counter()
    m.hub_reachable(timeout=1.0)
    assert time.perf_counter() - start < 5


def test_probe_gives_up_on_a_stalled_lookup(monkeypatch):
    """A DNS lookup that never returns (not covered by socket timeouts) does not block."""
    import busmtl.models.ssc_resnet as m

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("BUSMTL_OFFLINE", raising=False)
    monkeypatch.setattr(m.socket, "create_connection", lambda *a, **k: time.sleep(30))
    start = time.perf_counter()
    assert m.hub_reachable(timeout=0.5) is False
    assert time.perf_counter() - start < 3


def test_unknown_pretrained_weights_list_the_valid_ones():
    """Unknown pretrained weights name the valid ones."""
    with pytest.raises(ValueError, match="no pretrained weights 'bogus'.*imagenet"):
        SSCResNet(**SMALL, encoder_weights="bogus")


def test_every_model_setting_names_a_class():
    from busmtl.config import MODEL_NAMES
    from busmtl.models import MODELS, model_class

    assert tuple(MODELS) == MODEL_NAMES
    assert [model_class(name).__name__ for name in MODEL_NAMES] == [c for _, c in MODELS.values()]
    with pytest.raises(ValueError, match="unknown model 'unet'"):
        model_class("unet")
