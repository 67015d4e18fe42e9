"""The dashboards' charts drawn for the weekly PDF, server-side, with reportlab's own graphics.

A panel's chart is drawn from the same rows as its table (column 0 the axis, `series` the columns
drawn), so the PDF's picture and its numbers cannot disagree. reportlab is already what writes the
PDF; ECharts runs only in the browser, and a headless browser on the server for a weekly PDF is not
worth its weight. Colours are ECharts' default palette, so a chart reads the same on paper and in
the console.
"""

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors

PALETTE = [colors.HexColor(c) for c in ("#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272",
                                        "#fc8452", "#9a60b4", "#ea7ccc")]  # fmt: skip
MAX_CATEGORIES = 20  # bars or points on one axis: the top of the table, as the console's chart shows
HEIGHT = 150
LEGEND_ROW = 11


def number(value) -> float:
    """A table cell as a number to draw: "—" (no figure) is drawn as nothing, i.e. 0."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def drawing(panel, width: float, font: str) -> Drawing | None:
    """The panel's chart as a reportlab Drawing `width` points wide, or None when it has none."""
    if panel.chart == "none" or not panel.rows or not panel.series:
        return None
    rows = panel.rows[:MAX_CATEGORIES]
    data = [[number(row[i]) for row in rows] for i in panel.series]
    names = [str(row[0]) for row in rows]
    top = (
        max((sum(col) for col in zip(*data, strict=True)), default=0)
        if panel.chart == "stacked"
        else max((max(s) for s in data), default=0)
    )
    legend_rows = (len(panel.series) + 2) // 3
    legend_top = legend_rows * LEGEND_ROW + 4  # the legend hangs down from here to the bottom
    d = Drawing(width, HEIGHT + legend_top)
    chart = HorizontalLineChart() if panel.chart == "line" else VerticalBarChart()
    chart.x, chart.y = 36, 40 + legend_top
    chart.width, chart.height = width - 46, HEIGHT - 50
    chart.data = data
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top * 1.1 if top > 0 else 1
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 6
    axis = chart.categoryAxis
    axis.categoryNames = names
    axis.labels.fontName = font
    axis.labels.fontSize = 6
    axis.labels.angle = 30 if len(names) > 6 else 0
    axis.labels.boxAnchor = "ne" if len(names) > 6 else "n"
    if panel.chart == "stacked":
        axis.style = "stacked"
    for i in range(len(data)):
        if panel.chart == "line":
            chart.lines[i].strokeColor = PALETTE[i % len(PALETTE)]
            chart.lines[i].strokeWidth = 1.2
        else:
            chart.bars[i].fillColor = PALETTE[i % len(PALETTE)]
            chart.bars[i].strokeColor = None
    d.add(chart, name="chart")
    legend = Legend()
    legend.x, legend.y = 36, legend_top
    legend.fontName, legend.fontSize = font, 7
    legend.alignment = "right"
    legend.columnMaximum = 1 if len(panel.series) <= 3 else legend_rows
    legend.dx = legend.dy = 6
    legend.deltay = LEGEND_ROW
    legend.deltax = (width - 46) / 3
    legend.colorNamePairs = [
        (PALETTE[i % len(PALETTE)], str(panel.columns[s])) for i, s in enumerate(panel.series)
    ]
    d.add(legend, name="legend")
    return d
