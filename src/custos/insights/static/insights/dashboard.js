// Draws each panel's chart from the same numbers as its table (json_script "insights-charts").
(function () {
  function draw() {
    if (!window.echarts) return;
    var data = JSON.parse(document.getElementById("insights-charts").textContent);
    data.forEach(function (p) {
      var el = document.querySelector('[data-chart="' + p.id + '"]');
      if (!el) return;
      var chart = echarts.init(el);
      var axis = p.rows.map(function (r) { return String(r[0]); });
      var series = p.series.map(function (i) {
        return {
          name: p.columns[i],
          type: p.chart === "line" ? "line" : "bar",
          stack: p.chart === "stacked" ? "all" : undefined,
          data: p.rows.map(function (r) { return typeof r[i] === "number" ? r[i] : null; })
        };
      });
      // Counts of people and customers: no 0.2 of a customer on the axis.
      var whole = series.every(function (s) {
        return s.data.every(function (v) { return v === null || Math.round(v) === v; });
      });
      chart.setOption({
        tooltip: { trigger: "axis" },
        legend: { type: "scroll", top: 0 },
        grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
        xAxis: { type: "category", data: axis, axisLabel: { hideOverlap: true } },
        yAxis: { type: "value", minInterval: whole ? 1 : 0 },
        series: series
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
