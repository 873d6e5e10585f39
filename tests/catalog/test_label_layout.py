import itertools

from catalog.label_layout import labels_place


def apart(a, b) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_labels_at_the_same_corner_are_stacked_apart_inside_the_photo():
    # given four labels at nearly the same corner of a 300 × 200 photo (nested boxes)
    labels = [(10, 10, 90, 24), (12, 11, 70, 25), (10, 10, 60, 24), (11, 12, 100, 26)]

    # when they are placed
    placed = labels_place(labels, 300, 200, gap=2)

    # then the first keeps its corner, no two overlap, and all stay inside
    assert placed[0] == labels[0]
    assert all(apart(a, b) for a, b in itertools.combinations(placed, 2))
    assert all(r[1] >= 0 and r[3] <= 200 and r[0] >= 0 and r[2] <= 300 for r in placed)


def test_a_label_at_the_bottom_right_moves_up_and_left_into_the_photo():
    # given a label placed first at the bottom edge and one that would overlap it, past the right edge
    placed = labels_place([(200, 186, 280, 200), (250, 186, 330, 200)], 300, 200)

    # then the second is moved inside and above the first
    assert placed[1][2] == 300 and placed[1][3] <= 186
