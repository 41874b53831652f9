import pytest

from busmtl.config import PROFILES, make_config


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_builds(profile):
    cfg = make_config(profile, method="ew")
    assert cfg.profile == profile
    assert cfg.effective_batch_size >= 1


def test_paper_profile_follows_the_protocol():
    cfg = make_config("paper", method="gradnorm")
    assert (cfg.encoder, cfg.encoder_weights, cfg.prepare_size) == ("resnet34", "imagenet", 256)
    assert cfg.lr == 1e-4 and cfg.early_stopping_patience == 15
    assert cfg.effective_batch_size == 8
    assert make_config("paper", method="atdwa").effective_batch_size == 16


def test_explicit_settings_override_the_profile():
    cfg = make_config("quick", epochs=3, image_size=None)
    assert cfg.epochs == 3
    assert cfg.image_size is None  # None keeps the profile's value
    assert make_config("quick", method="gradnorm", batch_size=4).effective_batch_size == 4


def test_unknown_profile_and_setting_name_the_valid_ones():
    with pytest.raises(ValueError, match="valid profiles: " + ", ".join(PROFILES)):
        make_config("fast")
    with pytest.raises(ValueError, match="unknown setting.*epochz.*valid settings"):
        make_config("quick", epochz=3)


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        make_config("quick", epochs=0)
    with pytest.raises(ValueError, match="augment must be .* got 'sometimes'"):
        make_config("quick", augment="sometimes")
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, got 'fp16'"):
        make_config("quick", precision="fp16")
    with pytest.raises(ValueError, match="dropout_scope must be head or network"):
        make_config("quick", dropout_scope="everywhere")


def test_busi_cpu_profile_uses_the_real_data():
    cfg = make_config("busi-cpu", method="gradnorm")
    assert cfg.dataset == "busi" and cfg.encoder_weights is None and cfg.augment == "online"
    assert cfg.effective_batch_size == 8 and cfg.save_model


def test_digest_changes_with_any_setting():
    assert make_config("quick").digest() == make_config("quick").digest()
    assert make_config("quick").digest() != make_config("quick", seed=1).digest()
