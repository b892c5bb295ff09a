"""Figures 3, 7 and 8 are read from the built modules: what a box says is what the network holds."""

import matplotlib

matplotlib.use("Agg")

from deepcorrect.correction import corrected_layers, deepcorrect_model
from deepcorrect.diagrams import network_boxes, network_figure, unit_boxes, unit_figure
from deepcorrect.models import AllConvBN, CaffeAlexNet


def test_the_baseline_boxes_are_the_papers_layers():
    boxes = network_boxes(AllConvBN(100))
    convs = [b.text for b in boxes if b.text.startswith("conv")]
    assert convs == ["conv1  3×3, 96 · BN · ReLU", "conv2  3×3, 96 · BN · ReLU", "conv3  3×3/2, 96 · BN · ReLU",
                     "conv4  3×3, 192 · BN · ReLU", "conv5  3×3, 192 · BN · ReLU", "conv6  3×3/2, 192 · BN · ReLU",
                     "conv7  3×3, 192 · BN · ReLU", "conv8  1×1, 192 · BN · ReLU", "conv9  1×1, 100 · BN · ReLU"]
    alex = [b.text for b in network_boxes(CaffeAlexNet(1000))]
    assert "conv2  5×5, 256, 2 groups · ReLU" in alex and "LRN (n 5, α 0.0005)" in alex and alex[-1] == "fc8  fc 1000"


def test_a_deepcorr_model_shows_its_units_and_what_trains():
    model = deepcorrect_model(AllConvBN(10, width=0.25), {"conv1": range(12), "conv3": range(6)}, "identity")
    boxes = {b.text.split()[0]: b for b in network_boxes(model)}
    assert boxes["conv1"].unit.startswith("unit on 12 of 24 filters") and boxes["conv3"].unit.startswith("unit on 6 of")
    assert not boxes["conv2"].unit and not any(b.trains for b in boxes.values())  # only the units train
    unit = corrected_layers(model)["conv1"].unit
    assert unit_boxes(unit) == ["BN (12)", "1×1 conv, 12 → 64 · BN · ReLU", "3×3 conv, 64 → 64 · BN · ReLU",
                                "3×3 conv, 64 → 64 · BN · ReLU", "1×1 conv, 64 → 12 · BN"]
    fig = network_figure(model, "Figure 8")
    assert len(fig.axes[0].patches) > len(boxes)  # boxes, arrows and the units beside them
    assert unit_figure(corrected_layers(model)["conv1"], "Figure 7").axes[0].get_title() == "Figure 7"
