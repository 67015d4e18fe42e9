"""Distances on the Earth and geofences (circle or polygon), at the scale of a city.

Polygons are [[lon, lat], ...] (GeoJSON order). Inside a city an equirectangular projection
around the point is off by far less than a phone's GPS error, so edges are measured flat.
"""

import math

EARTH_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _flat(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """(east, north) in metres from (lat0, lon0)."""
    x = math.radians(lon - lon0) * EARTH_M * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_M
    return x, y


def inside_polygon(lat: float, lon: float, polygon: list) -> bool:
    """Ray casting; the polygon need not be closed."""
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _segment_m(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def outside_by_m(lat: float, lon: float, *, center=None, radius_m=None, polygon=None) -> float:
    """How far the point is outside the fence: 0 inside it."""
    if polygon:
        if inside_polygon(lat, lon, polygon):
            return 0.0
        flat = [_flat(lat, lon, p[1], p[0]) for p in polygon]
        return min(_segment_m(0.0, 0.0, *flat[i], *flat[(i + 1) % len(flat)]) for i in range(len(flat)))
    if center is None or radius_m is None:
        return 0.0
    return max(0.0, distance_m(lat, lon, center[0], center[1]) - radius_m)


def check_polygon(polygon) -> list[list[float]]:
    """A polygon as [[lon, lat], ...] of at least 3 valid points, or ValueError saying why."""
    if not isinstance(polygon, list) or len(polygon) < 3:
        raise ValueError("a polygon needs at least 3 points [lon, lat]")
    if len(polygon) > 500:
        raise ValueError("a polygon has at most 500 points")
    out = []
    for point in polygon:
        if not (isinstance(point, list | tuple) and len(point) == 2):
            raise ValueError("each polygon point is [lon, lat]")
        lon, lat = (float(v) for v in point)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("a polygon point is outside [-180, 180] x [-90, 90]")
        out.append([lon, lat])
    return out
