"""Datasets: digits split, batch augmentation, CIFAR pickles (and their safe reading), image
folders. Small datasets are written in the real on-disk formats."""
from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from cnnspace.data import (Augmentation, DataError, TensorImages, get_dataset,
                           load_restricted_pickle, sample_bits, write_cifar10)


# -- digits -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return get_dataset("digits")


def test_digits_is_a_fixed_stratified_80_20_split_at_32x32(digits):
    assert (len(digits.train), len(digits.test)) == (1437, 360)
    assert digits.input_shape == (1, 32, 32) and digits.num_classes == 10
    per_class_total = torch.bincount(torch.cat([digits.train.labels, digits.test.labels]))
    per_class_test = torch.bincount(digits.test.labels, minlength=10)
    # stratified: every class keeps its share of the test set (to rounding)
    assert ((per_class_test - 0.2 * per_class_total).abs() <= 1).all()
    again = get_dataset("digits")
    assert torch.equal(again.test.labels, digits.test.labels)
    assert torch.equal(again.test.images, digits.test.images)


def test_digits_normalised_with_training_statistics(digits):
    plain = TensorImages(digits.train.images, digits.train.labels, digits.train.mean,
                         digits.train.std)
    x, _ = plain.batch(range(len(plain)))
    assert abs(x.mean().item()) < 1e-3 and abs(x.std().item() - 1) < 1e-2


def test_digits_image_size_option():
    small = get_dataset("digits", image_size=8)
    assert small.input_shape == (1, 8, 8)
    assert small.train.batch([0])[0].shape == (1, 1, 8, 8)


# -- augmentation -------------------------------------------------------------------------------

def test_sample_bits_depend_only_on_seed_epoch_and_index():
    a = sample_bits(0, 1, [5, 6, 7])
    assert np.array_equal(a, sample_bits(0, 1, [5, 6, 7]))
    assert np.array_equal(a[1:], sample_bits(0, 1, [6, 7]))  # not on the batch around it
    assert not np.array_equal(a, sample_bits(0, 2, [5, 6, 7]))
    assert not np.array_equal(a, sample_bits(1, 1, [5, 6, 7]))
    assert len(set(sample_bits(0, 0, range(1000)).tolist())) == 1000


def _crop_of(out: torch.Tensor, image: torch.Tensor, pad: int):
    """(dy, dx, flipped) such that ``out`` is that crop of the zero-padded ``image``."""
    padded = torch.nn.functional.pad(image, (pad,) * 4)
    h, w = image.shape[-2:]
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            for flipped in (False, True):
                if torch.equal(out, crop.flip(-1) if flipped else crop):
                    return dy, dx, flipped
    return None


@pytest.mark.parametrize("flip", [False, True])
def test_augmentation_is_a_padded_random_crop_and_optional_flip(flip):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (200, 3, 6, 6), dtype=torch.uint8, generator=g)
    out = Augmentation(pad=2, flip=flip).apply(images, sample_bits(0, 0, range(200)))
    found = [_crop_of(o, i, 2) for o, i in zip(out, images)]
    assert None not in found
    assert {(dy, dx) for dy, dx, _ in found} == {(y, x) for y in range(5) for x in range(5)}
    assert {f for _, _, f in found} == ({False, True} if flip else {False})


def test_a_sample_is_augmented_the_same_in_any_batch(digits):
    digits.train.set_epoch(3)
    alone, _ = digits.train.batch([7])
    together, _ = digits.train.batch([3, 7, 11])
    assert torch.equal(alone[0], together[1])
    digits.train.set_epoch(4)
    assert not torch.equal(alone[0], digits.train.batch([7])[0][0])
    digits.train.set_epoch(0)


def test_plain_dataloader_batches_through_getitems(digits):
    x, y = next(iter(DataLoader(digits.test, batch_size=16)))
    assert x.shape == (16, 1, 32, 32) and x.dtype == torch.float32
    assert torch.equal(y, digits.test.labels[:16])
    assert torch.equal(x[3], digits.test[3][0])  # the test split is not augmented


def test_resizing_and_statistics_take_a_chunk_at_a_time(monkeypatch):
    import cnnspace.data._augment as augment
    from cnnspace.data import channel_stats, resize

    images = torch.randint(0, 256, (50, 3, 12, 12), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    whole = [resize(images, size) for size in (8, 20)], channel_stats(images)
    monkeypatch.setattr(augment, "CHUNK_VALUES", 1000)  # 2 or 3 images a chunk
    assert all(torch.equal(a, resize(images, size)) for a, size in zip(whole[0], (8, 20)))
    together = resize(images, 20)
    assert all(torch.equal(together[i:i + 1], resize(images[i:i + 1], 20)) for i in range(3))
    assert np.allclose(channel_stats(images), whole[1], rtol=1e-12, atol=0)
    x = images.double().div(255).transpose(0, 1).reshape(3, -1)  # the definition, in float64
    assert np.allclose(channel_stats(images), [x.mean(1).tolist(), x.std(1).tolist()],
                       rtol=1e-12, atol=0)


def test_a_dataset_is_resized_without_float_copies_of_all_of_it():
    # 4,000 CIFAR images to 64x64: 49 MB of uint8; float32 and float64 copies of the whole set
    # took 1 GB more (11 GB for CIFAR-10's 50,000).
    code = ("import resource, torch\n"
            "from cnnspace.data import channel_stats, resize\n"
            "x = torch.randint(0, 256, (4000, 3, 32, 32), dtype=torch.uint8)\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "channel_stats(resize(x, 64))\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    import subprocess
    import sys
    grown_kb = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout)
    assert grown_kb < 200_000


# -- CIFAR --------------------------------------------------------------------------------------

def _write_pickle(path: Path, obj) -> None:
    # Protocol 2 as the official files (Python 2 wrote them; Python 3 adds _codecs for bytes).
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _cifar_batch(n: int, classes: int, label_key: bytes, seed: int):
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"testing", label_key: rng.integers(0, classes, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(n)]}


def write_random_cifar10(root: Path, per_batch: int, test: int) -> Path:
    """A cifar-10-batches-py folder under ``root`` with random images."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        _write_pickle(folder / f"data_batch_{i}", _cifar_batch(per_batch, 10, b"labels", i))
    _write_pickle(folder / "test_batch", _cifar_batch(test, 10, b"labels", 9))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    _write_pickle(folder / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    return root


@pytest.fixture
def cifar10_dir(tmp_path):
    return write_random_cifar10(tmp_path, per_batch=4, test=3)


def test_cifar10_reads_the_python_batches(cifar10_dir):
    for ref in (f"cifar10:{cifar10_dir}", f"cifar10:{cifar10_dir / 'cifar-10-batches-py'}"):
        data = get_dataset(ref)
        assert (len(data.train), len(data.test)) == (20, 3)
        assert data.input_shape == (3, 32, 32) and data.num_classes == 10
        assert data.classes[0] == "airplane" and data.classes[9] == "truck"
    raw = pickle.loads((cifar10_dir / "cifar-10-batches-py" / "test_batch").read_bytes())
    # row layout: 1024 red values, then green, then blue, each row-major 32x32
    image = data.test.images[1]
    assert image[0, 0, 0] == raw[b"data"][1, 0] and image[1, 0, 0] == raw[b"data"][1, 1024]
    assert image[2, 31, 31] == raw[b"data"][1, 3071] and image[0, 1, 0] == raw[b"data"][1, 32]
    assert data.test.labels.tolist() == raw[b"labels"]
    assert get_dataset(f"cifar10:{cifar10_dir}", image_size=16).input_shape == (3, 16, 16)
    # whoever deploys the model learns the channel order and that the whole image is scaled
    prep = data.preprocessing()
    assert prep["channels"] == "RGB" and prep["resize"].startswith("the whole image scaled")


def test_cifar100_layout(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _write_pickle(folder / "train", _cifar_batch(6, 100, b"fine_labels", 1))
    _write_pickle(folder / "test", _cifar_batch(2, 100, b"fine_labels", 2))
    _write_pickle(folder / "meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)]})
    data = get_dataset(f"cifar100:{tmp_path}")
    assert data.num_classes == 100 and (len(data.train), len(data.test)) == (6, 2)


def test_cifar_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError, match="cifar-10-python.tar.gz.*toronto.edu.*extract"):
        get_dataset(f"cifar10:{tmp_path}")


def test_cifar_incomplete_folder_names_the_file(cifar10_dir):
    (cifar10_dir / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3: missing"):
        get_dataset(f"cifar10:{cifar10_dir}")


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    exploit = _Exploit()
    exploit.marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": exploit}, protocol=2))
    with pytest.raises(DataError, match=r"refusing to load the global (posix|os|nt)\.system"):
        load_restricted_pickle(path)
    assert not exploit.marker.exists()
    # the same inside a CIFAR folder
    (tmp_path / "cifar-10-batches-py").mkdir()
    path.rename(tmp_path / "cifar-10-batches-py" / "data_batch_1")
    with pytest.raises(DataError, match="not a safe data pickle"):
        get_dataset(f"cifar10:{tmp_path}")


def test_truncated_pickle_is_a_clear_error(cifar10_dir):
    path = cifar10_dir / "cifar-10-batches-py" / "data_batch_1"
    whole = path.read_bytes()
    path.write_bytes(whole[:100])
    with pytest.raises(DataError, match="data_batch_1: not a readable pickle"):
        get_dataset(f"cifar10:{cifar10_dir}")
    # cut inside the images (pickle's own UnpicklingError), or still compressed: damaged or
    # unextracted files, not unsafe ones (they were called 'not a safe data pickle')
    for damaged in (whole[:-20], gzip.compress(whole)):
        path.write_bytes(damaged)
        with pytest.raises(DataError, match=r"data_batch_1: not a readable pickle \("
                                            "UnpicklingError: (pickle data was truncated|"
                                            "invalid load key)"):
            get_dataset(f"cifar10:{cifar10_dir}")


@pytest.mark.parametrize("change, message", [
    (lambda b: {**b, b"labels": ["cat"] * len(b[b"labels"])},
     "'labels' must be integer class indices"),
    (lambda b: {**b, b"data": b[b"data"][:0], b"labels": []}, "a batch without images"),
    # cast, 2.7 would silently become class 2
    (lambda b: {**b, b"labels": [v + 0.7 for v in b[b"labels"]]},
     "'labels' must be integer class indices, got float64"),
    (lambda b: {**b, b"labels": b[b"labels"][:3]},
     r"'labels' must list one class index per image: 4 images, labels of shape \(3,\)"),
    # a single number was a TypeError (len() of unsized object); a column said '4 labels for 4'
    (lambda b: {**b, b"labels": 5}, r"'labels' must list .*: 4 images, labels of shape \(\)"),
    (lambda b: {**b, b"labels": np.array(b[b"labels"])[:, None]},
     r"'labels' must list .*: 4 images, labels of shape \(4, 1\)"),
])
def test_malformed_cifar_batches_are_named(cifar10_dir, change, message):
    path = cifar10_dir / "cifar-10-batches-py" / "data_batch_2"
    _write_pickle(path, change(_cifar_batch(4, 10, b"labels", 2)))
    with pytest.raises(DataError, match=f"data_batch_2: {message}"):
        get_dataset(f"cifar10:{cifar10_dir}")


def test_cifar_class_names_that_are_no_list_are_named(cifar10_dir):
    meta = cifar10_dir / "cifar-10-batches-py" / "batches.meta"
    _write_pickle(meta, {b"label_names": 10})
    with pytest.raises(DataError, match="batches.meta: 'label_names' must be a list of class "
                                        "names, got int"):
        get_dataset(f"cifar10:{cifar10_dir}")


def test_cifar_with_one_class_is_refused_as_an_image_folder_is(cifar10_dir):
    # one class scores 100% top-1 and top-5 whatever the network learns
    folder = cifar10_dir / "cifar-10-batches-py"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _write_pickle(folder / name, _cifar_batch(4, 1, b"labels", 1))
    _write_pickle(folder / "batches.meta", {b"label_names": [b"only"]})
    with pytest.raises(DataError, match="batches.meta: needs at least two classes, found "
                                        r"\['only'\]"):
        get_dataset(f"cifar10:{cifar10_dir}")


def test_cifar_batches_resaved_at_pickle_protocol_5_are_read(cifar10_dir):
    # Protocol 5 (Python 3.14's default) writes arrays through numpy's _frombuffer.
    folder = cifar10_dir / "cifar-10-batches-py"
    for path in folder.iterdir():
        batch = pickle.loads(path.read_bytes())
        resaved = {k.decode(): np.asarray(v) if k == b"labels" else v for k, v in batch.items()}
        path.write_bytes(pickle.dumps(resaved, protocol=5))
    data = get_dataset(f"cifar10:{cifar10_dir}")
    assert (len(data.train), len(data.test)) == (20, 3) and data.num_classes == 10


# -- image folders ------------------------------------------------------------------------------

COLORS = {"blue": (0, 0, 255), "red": (255, 0, 0)}


def _image_folder(root: Path, sizes=((12, 12), (20, 10))) -> Path:
    for split in ("train", "val"):
        for name, color in COLORS.items():
            (root / split / name).mkdir(parents=True)
            for i, size in enumerate(sizes):
                Image.new("RGB", size, color).save(root / split / name / f"{i}.png")
    return root


def test_imagefolder_decodes_class_folders(tmp_path):
    data = get_dataset(f"imagefolder:{_image_folder(tmp_path)}", image_size=8)
    assert data.classes == ("blue", "red") and data.num_classes == 2
    assert data.input_shape == (3, 8, 8) and (len(data.train), len(data.test)) == (4, 4)
    raw = data.test._images(list(range(4)))  # uint8, before normalisation
    assert raw.shape == (4, 3, 8, 8)  # non-square images: shorter side scaled, centre cropped
    for image, label in zip(raw, data.test.labels):
        expected = torch.tensor(COLORS[data.classes[label]], dtype=torch.uint8)
        assert torch.equal(image[:, 4, 4], expected)
    x, y = next(iter(DataLoader(data.train, batch_size=4)))
    assert x.shape == (4, 3, 8, 8) and sorted(y.tolist()) == [0, 0, 1, 1]


def test_imagefolder_errors_name_the_folder_or_file(tmp_path):
    root = _image_folder(tmp_path)
    (root / "val" / "green").mkdir()
    with pytest.raises(DataError, match="green: class folder not present under train"):
        get_dataset(f"imagefolder:{root}")
    (root / "val" / "green").rmdir()
    (root / "train" / "red" / "0.png").write_bytes(b"not a png")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    with pytest.raises(DataError, match=r"red/0\.png: cannot decode"):
        data.train.batch(range(len(data.train)))
    with pytest.raises(DataError, match="missing; imagefolder expects"):
        get_dataset(f"imagefolder:{tmp_path / 'nowhere'}")


def test_imagefolder_skips_hidden_entries_and_refuses_empty_classes(tmp_path):
    root = _image_folder(tmp_path)
    (root / "train" / ".ipynb_checkpoints").mkdir()  # would be class 0, shifting every label
    Image.new("RGB", (8, 8)).save(root / "train" / ".ipynb_checkpoints" / "x.png")
    (root / "train" / "red" / "._0.png").write_bytes(b"macOS metadata, not a png")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    assert data.classes == ("blue", "red") and len(data.train) == 4
    (root / "train" / "zebra").mkdir()
    with pytest.raises(DataError, match="zebra: a class folder without images"):
        get_dataset(f"imagefolder:{root}", image_size=8)


def test_a_folder_named_like_an_image_is_no_image(tmp_path):
    root = _image_folder(tmp_path)
    (root / "train" / "red" / "more.png").mkdir()  # its images count, the folder does not
    Image.new("RGB", (8, 8), COLORS["red"]).save(root / "train" / "red" / "more.png" / "x.png")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    assert [f.relative_to(root).as_posix() for f in data.train.files if "more" in str(f)] == \
        ["train/red/more.png/x.png"]
    assert len(data.train) == 5 and data.train.batch(range(5))[0].shape == (5, 3, 8, 8)


def test_images_in_linked_folders_count_and_a_link_loop_ends(tmp_path):
    # a class gathered from elsewhere by links: the images under a linked sub-folder were
    # skipped without a word (as torchvision's ImageFolder, os.walk follows links)
    root = _image_folder(tmp_path / "images")
    elsewhere = tmp_path / "more_red"
    elsewhere.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), COLORS["red"]).save(elsewhere / f"{i}.png")
    (root / "train" / "red" / "more").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "loop").symlink_to(root / "train" / "red", target_is_directory=True)
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    assert len(data.train) == 7 and data.train.labels.tolist() == [0, 0] + [1] * 5


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    root = _image_folder(tmp_path)
    grey = np.full((12, 12), 32768, dtype=np.uint16)  # mid-grey in 16 bits
    Image.fromarray(grey).save(root / "train" / "red" / "grey16.png")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    index = next(i for i, f in enumerate(data.train.files) if f.name == "grey16.png")
    assert data.train._images([index])[0, :, 4, 4].tolist() == [128, 128, 128]


def test_a_dark_16_bit_image_stays_dark(tmp_path):
    # Whether a 16-bit image is shifted must not depend on its brightest pixel: 200 of 65535
    # is black, and 255 and 256 are neighbours, not full white and black.
    root = _image_folder(tmp_path)
    for value in (200, 255, 256):
        Image.fromarray(np.full((12, 12), value, dtype=np.uint16)).save(
            root / "train" / "red" / f"dark{value}.png")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    decoded = {f.name: data.train._images([i])[0, 0, 4, 4].item()
               for i, f in enumerate(data.train.files) if f.name.startswith("dark")}
    assert decoded == {"dark200.png": 0, "dark255.png": 0, "dark256.png": 1}


def test_palette_images_with_transparency_decode_without_a_warning(tmp_path):
    import warnings

    root = _image_folder(tmp_path)
    palette = Image.new("RGB", (12, 12), (255, 0, 0)).convert("P")
    palette.save(root / "train" / "red" / "palette.png", transparency=b"\x00" * 8)
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    index = next(i for i, f in enumerate(data.train.files) if f.name == "palette.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's UserWarning: two lines per image on stderr
        pixel = data.train._images([index])[0, :, 4, 4]
    assert pixel.tolist() == [255, 0, 0]


def test_a_bad_image_in_a_loader_process_is_one_line(tmp_path):
    from cnnspace.train._loader import unwrapped

    root = _image_folder(tmp_path)
    (root / "train" / "red" / "0.png").write_bytes(b"not a png")
    data = get_dataset(f"imagefolder:{root}", image_size=8)
    with pytest.raises(DataError) as e:
        list(unwrapped(DataLoader(data.train, batch_size=4, num_workers=1)))
    assert "0.png: cannot decode the image" in str(e.value)
    assert "Traceback" not in str(e.value) and len(str(e.value).splitlines()) == 1


# -- references ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ref, message", [
    ("mnist", "unknown dataset 'mnist'; choose one of cifar10:PATH, cifar100:PATH, digits"),
    ("cifar10", "needs a folder: cifar10:PATH"),
    ("digits:/tmp", "built in and takes no path"),
])
def test_bad_references(ref, message):
    with pytest.raises(DataError, match=message):
        get_dataset(ref)


def test_bad_image_size():
    with pytest.raises(DataError, match="image size must be a positive integer"):
        get_dataset("digits", image_size=0)


def test_write_cifar10_round_trips(tmp_path):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (13, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(13) % 10
    names = [f"class{i}" for i in range(10)]
    write_cifar10(tmp_path, images[:10], labels[:10], images[10:], labels[10:], names)
    assert sorted(p.name for p in (tmp_path / "cifar-10-batches-py").iterdir()) == [
        "batches.meta", "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
        "data_batch_5", "test_batch"]
    data = get_dataset(f"cifar10:{tmp_path}")
    assert torch.equal(data.train.images, images[:10]) and torch.equal(data.test.images,
                                                                        images[10:])
    assert torch.equal(data.train.labels, labels[:10]) and data.classes == tuple(names)


def test_a_dataset_on_disk_is_named_by_its_absolute_folder(tmp_path, monkeypatch):
    root = _image_folder(tmp_path / "images")
    monkeypatch.chdir(tmp_path)
    assert get_dataset("imagefolder:images", image_size=8).name == f"imagefolder:{root}"
    cifar = write_random_cifar10(tmp_path, 4, 4)  # the folder holding cifar-10-batches-py
    assert get_dataset("cifar10:./").name == f"cifar10:{cifar.resolve()}"


def test_a_pickle_cannot_make_the_reader_allocate_memory(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x7f\x85R.")  # bytes(2**31 - ...)
    with pytest.raises(DataError, match="refusing bytes\\(\\) of a number"):
        load_restricted_pickle(path)


@pytest.mark.parametrize("call", [
    b"cnumpy\nndarray\n(J\x00\xe1\xf5\x05\x85U\x02u1tR.",  # ndarray((10**8,), 'u1')
    # _reconstruct(ndarray, (10**8,), 'O'): 800 MB of pointers, each set to None
    b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n(J\x00\xe1\xf5\x05\x85U\x01OtR.",
    # scalar(dtype('V100000000')): 100 MB zeroed for one value
    b"cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\n(U\nV100000000\x89\x88tR\x85R.",
])
def test_a_pickle_cannot_make_numpy_allocate_memory(tmp_path, call):
    # numpy's own pickles make empty arrays and fill them from the file's bytes: a tiny file
    # that asks numpy for a large array or scalar directly is refused before it allocates
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x02" + call)
    with pytest.raises(DataError, match="not a (safe data|readable) pickle"):
        load_restricted_pickle(path)


def test_numpy_arrays_and_scalars_of_every_protocol_are_read(tmp_path):
    path = tmp_path / "batch"
    value = {"a": np.arange(6, dtype=np.uint8).reshape(2, 3), "u": np.array(["x", "yz"]),
             "s": np.float64(2.5), "e": np.zeros((0, 3072), np.uint8)}
    for protocol in (2, 4, 5):
        path.write_bytes(pickle.dumps(value, protocol=protocol))
        back = load_restricted_pickle(path)
        assert back["a"].tolist() == [[0, 1, 2], [3, 4, 5]] and back["u"].tolist() == ["x", "yz"]
        assert back["s"] == 2.5 and back["e"].shape == (0, 3072)
        assert back["a"].dtype == np.uint8 and back["a"].flags.c_contiguous


class _Dtype:
    """numpy.dtype(code) and the state a pickle sets on it: by default the flags of Python
    objects (numpy's own state is (3, '|', None, None, None, -1, -1, 0))."""
    def __init__(self, code: str, size: int = -1, state: tuple | None = None):
        self.code, self.state = code, state or (3, "|", None, None, None, size, 1, 63)

    def __reduce__(self):
        return np.dtype, (self.code, False, True), self.state


class _ObjectArray:
    """An array of 1,000 items whose state holds none: numpy reads them past the list's end."""
    def __init__(self, dtype: _Dtype):
        self.dtype = dtype

    def __reduce__(self):
        return (np.zeros(1).__reduce__()[0], (np.ndarray, (0,), b"b"),
                (1, (1000,), self.dtype, False, []))


class _PointerScalar:
    """A scalar whose dtype's state makes its 8 bytes a field of Python objects: a pointer."""
    def __reduce__(self):
        dtype = _Dtype("V8", state=(3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0))
        return np.float64(0).__reduce__()[0], (dtype, b"\x41" * 8)


@pytest.mark.parametrize("exploit", [
    _ObjectArray(_Dtype("O8")), _ObjectArray(_Dtype("V8", 8)), _PointerScalar(),
    # numpy's dtype.__setstate__ itself crashes on a state of six items
    _ObjectArray(_Dtype("u1", state=(3, "|", None, -1, -1, 0)))],
    ids=["object array", "void made object", "pointer in a scalar", "short dtype state"])
def test_a_pickle_cannot_make_numpy_read_past_its_data(tmp_path, exploit):
    # numpy takes an object array's items from a list without checking its length, and a
    # dtype's pickled state may give any dtype the flags of objects: the reader crashed
    # (segmentation fault), reading memory past the list as Python objects
    import subprocess
    import sys
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": exploit}, protocol=2))
    code = ("import sys; from cnnspace.data import DataError, load_restricted_pickle\n"
            "try:\n    repr(load_restricted_pickle(sys.argv[1]))\n"  # as whoever uses it
            "except DataError as e:\n    print(e)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "data_batch_1: not a safe data pickle: refusing numpy dtype" in run.stdout \
        or "data_batch_1: not a readable pickle (TypeError: pickle not returning" in run.stdout


@pytest.mark.parametrize("train", [5, 6, 11, 16])
def test_write_cifar10_writes_five_readable_batches_of_any_size(tmp_path, train):
    # torch's chunk(5) of 6, 11 or 16 images made 3 or 4 batches: data_batch_4/5 were missing
    images = torch.zeros((train + 2, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(train + 2) % 10
    write_cifar10(tmp_path, images[:train], labels[:train], images[train:], labels[train:],
                  [f"c{i}" for i in range(10)])
    data = get_dataset(f"cifar10:{tmp_path}")
    assert (len(data.train), len(data.test)) == (train, 2)
    assert torch.equal(data.train.labels, labels[:train])


@pytest.mark.parametrize("change, message", [
    # torchvision's CIFAR arrays are (N, 32, 32, 3): written as they were, every image scrambled
    (lambda t: {**t, "train_images": t["train_images"].permute(0, 2, 3, 1)},
     r"train_images must be uint8 \(N, 3, 32, 32\), got torch.uint8 \(8, 32, 32, 3\)"),
    (lambda t: {**t, "test_images": t["test_images"].float()},
     r"test_images must be uint8 \(N, 3, 32, 32\), got torch.float32"),
    (lambda t: {**t, "train_labels": t["train_labels"][:7]},  # was an IndexError
     "7 train_labels for 8 train_images"),
    (lambda t: {**t, "train_images": t["train_images"][:4], "train_labels": t["train_labels"][:4]},
     "at least 5 training images, one per batch, got 4"),
])
def test_write_cifar10_refuses_what_it_cannot_store(tmp_path, change, message):
    given = {"train_images": torch.zeros((8, 3, 32, 32), dtype=torch.uint8),
             "train_labels": torch.arange(8) % 10,
             "test_images": torch.zeros((2, 3, 32, 32), dtype=torch.uint8),
             "test_labels": torch.arange(2), "names": [f"c{i}" for i in range(10)]}
    with pytest.raises(DataError, match=message):
        write_cifar10(tmp_path, **change(given))
    assert not (tmp_path / "cifar-10-batches-py").exists()


def test_a_file_of_another_format_under_an_image_name_is_never_decoded(tmp_path, monkeypatch):
    # Pillow picks its decoder by the bytes: an EPS file named .png reached the EPS plugin,
    # which hands the file to Ghostscript where it is installed.
    from PIL import EpsImagePlugin

    from cnnspace.data import DataError
    from cnnspace.data._imagefolder import decode
    from cnnspace.detect._dataset import load_image
    reached = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open",
                        lambda self: reached.append(self) or (_ for _ in ()).throw(SyntaxError()))
    eps = tmp_path / "photo.png"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n")
    with pytest.raises(DataError, match="photo.png: cannot decode the image: cannot identify"):
        decode(eps, 8)
    with pytest.raises(DataError, match="photo.png: cannot identify"):
        load_image(eps)
    assert reached == []
