// Draws a salesperson's day (json_script "route-data") on plain longitude/latitude axes: the
// customers' sites, the assigned area, the track as a line, and the check-ins (red when an alert
// names them). No map tiles: the positions are the picture.
(function () {
  function circle(lat, lon, radius) {
    var pts = [], dLat = radius / 111320, dLon = radius / (111320 * Math.cos(lat * Math.PI / 180));
    for (var i = 0; i <= 48; i++) {
      var a = (i / 48) * 2 * Math.PI;
      pts.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
    }
    return pts;
  }
  function draw() {
    var el = document.getElementById("route-map");
    if (!el || !window.echarts) return;
    var d = JSON.parse(document.getElementById("route-data").textContent);
    var L = d.labels, all = [];
    var fences = d.sites.map(function (s) {
      return s.polygon && s.polygon.length ? s.polygon.concat([s.polygon[0]]) : circle(s.lat, s.lon, s.radius_m);
    });
    d.sites.forEach(function (s) { all.push([s.lon, s.lat]); });
    d.track.forEach(function (p) { all.push([p[0], p[1]]); });
    d.visits.forEach(function (v) { all.push([v.lon, v.lat]); });
    var areaLine = null;
    if (d.area) {
      areaLine = d.area.polygon && d.area.polygon.length ? d.area.polygon.concat([d.area.polygon[0]]) : circle(d.area.lat, d.area.lon, d.area.radius_m);
      // The area page frames the whole area; the route page frames the day (the area edge shows where it is left).
      if (d.fit_area) areaLine.forEach(function (p) { all.push(p); });
    }
    if (!all.length) { el.textContent = ""; return; }
    var xs = all.map(function (p) { return p[0]; }), ys = all.map(function (p) { return p[1]; });
    var minX = Math.min.apply(null, xs), maxX = Math.max.apply(null, xs);
    var minY = Math.min.apply(null, ys), maxY = Math.max.apply(null, ys);
    var pad = Math.max(maxX - minX, maxY - minY, 0.005) * 0.12;
    var series = [];
    fences.forEach(function (f) {
      series.push({ type: "line", data: f, showSymbol: false, silent: true, lineStyle: { width: 1, color: "#7aa6d8", type: "dashed" }, areaStyle: null, tooltip: { show: false } });
    });
    if (areaLine) {
      series.push({ name: L.area, type: "line", data: areaLine, showSymbol: false, silent: true, lineStyle: { width: 1.5, color: "#999", type: "dotted" } });
    }
    series.push({ name: L.track, type: "line", data: d.track, showSymbol: false, lineStyle: { width: 2, color: "#3a7bd5" },
      tooltip: { formatter: function (p) { return p.data[2]; } } });
    series.push({ name: L.sites, type: "scatter", symbol: "diamond", symbolSize: 12, itemStyle: { color: "#2f8f5b" },
      data: d.sites.map(function (s) { return { value: [s.lon, s.lat], name: s.name }; }),
      label: { show: true, position: "right", formatter: "{b}", fontSize: 11 }, labelLayout: { hideOverlap: true } });
    var split = function (flagged) {
      return d.visits.filter(function (v) { return v.flagged === flagged; }).map(function (v) {
        return { value: [v.lon, v.lat], name: v.time + " " + v.name, url: v.url };
      });
    };
    series.push({ name: L.visits, type: "scatter", symbolSize: 11, itemStyle: { color: "#f0a020" }, data: split(false) });
    series.push({ name: L.flagged, type: "scatter", symbolSize: 15, itemStyle: { color: "#d23f31" }, data: split(true) });
    var chart = echarts.init(el);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: function (p) { return p.name || (p.data && p.data[2]) || ""; } },
      legend: { type: "scroll", top: 0, data: d.fit_area ? [L.sites, L.area] : [L.sites, L.track, L.visits, L.flagged] },
      grid: { left: 8, right: 16, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "value", min: minX - pad, max: maxX + pad, axisLabel: { formatter: function (v) { return v.toFixed(3); }, hideOverlap: true }, splitLine: { lineStyle: { color: "#eee" } } },
      yAxis: { type: "value", min: minY - pad, max: maxY + pad, axisLabel: { formatter: function (v) { return v.toFixed(3); } }, splitLine: { lineStyle: { color: "#eee" } } },
      series: series
    });
    chart.on("click", function (p) { if (p.data && p.data.url) window.location.href = p.data.url; });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
