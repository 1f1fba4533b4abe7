import numpy as np

from qingshan.standards.aqi import iaqi


def test_co_24h_2_2_is_exactly_55():
    """HJ 633—2012 Table 1: CO 24-h 2→50, 4→100; 2.2 mg/m³ gives exactly 55 (§6.2 ceiling)."""
    assert iaqi("co_24h", np.array([2.2]), "2012").tolist() == [55.0]
