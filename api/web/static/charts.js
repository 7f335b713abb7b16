// The report pages' and the cockpit's charts (ECharts, from /vendor/echarts): data embedded in the page as JSON
// (#chart-data), one chart per [data-chart] container. Each container gets data-ready="true"
// once its chart has rendered (the browser tests wait for it).
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
  var COLORS = { green: "#1a7f37", yellow: "#c58a00", red: "#c62828", bar: "#3d6db5", line: "#b3261e" };
  var LIGHTS = [["red", "逾期"], ["yellow", "临期"], ["green", "正常"]];
  function percent(value) { return value === null || value === undefined ? "—" : value.toFixed(1) + "%"; }
  // A tooltip formatter's string is HTML: names (set by admins) go in as text, escaped.
  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" };
  function escapeHtml(value) { return String(value).replace(/[&<>"']/g, function (ch) { return ENTITIES[ch]; }); }

  var options = {
    // 各部门按时办理率: horizontal bars in rank order (rank 1 on top); 100% in green.
    ranking: function () {
      var rows = data.ranking;
      return {
        grid: { left: 8, right: 56, top: 8, bottom: 24, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: function (params) {
          var row = rows[params[0].dataIndex];
          return escapeHtml(row.name) + "<br>按时率 " + percent(row.rate) + "<br>按时办理 " + row.on_time + "，超期 " + row.overdue;
        } },
        xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
        yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }),
                 axisTick: { show: false } },
        series: [{ type: "bar", barMaxWidth: 24,
                   data: rows.map(function (r) {
                     return { value: r.rate, itemStyle: { color: r.rate === 100 ? COLORS.green : COLORS.bar } };
                   }),
                   label: { show: true, position: "right", formatter: function (p) { return percent(p.value); } } }]
      };
    },
    // 在办事项预警分布: a ring of red / yellow / green over the open items now.
    lights: function () {
      var counts = {};
      LIGHTS.forEach(function (l) { counts[l[1]] = data.lights[l[0]]; });
      return {
        tooltip: { trigger: "item", formatter: "{b}：{c} 项（{d}%）" },
        legend: { bottom: 0, formatter: function (name) { return name + " " + counts[name] + " 项"; } },
        color: LIGHTS.map(function (l) { return COLORS[l[0]]; }),
        series: [{ type: "pie", radius: ["38%", "70%"], center: ["50%", "45%"],
                   label: { position: "inside", color: "#fff", fontWeight: "bold", fontSize: 14,
                            formatter: function (p) { return p.value ? String(p.value) : ""; } },
                   data: LIGHTS.map(function (l) { return { name: l[1], value: data.lights[l[0]] }; }) }]
      };
    },
    // 各部门逾期环节 (驾驶舱): horizontal bars, the department with most overdue steps on top.
    overdue: function () {
      var rows = data.overdue;
      return {
        grid: { left: 8, right: 40, top: 8, bottom: 24, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: function (params) {
          var row = rows[params[0].dataIndex];
          return escapeHtml(row.name) + "<br>逾期环节 " + row.steps + " 个<br>涉及事项和问题 " + row.records + " 项";
        } },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }),
                 axisTick: { show: false } },
        series: [{ type: "bar", barMaxWidth: 24, itemStyle: { color: COLORS.red },
                   data: rows.map(function (r) { return r.steps; }), label: { show: true, position: "right" } }]
      };
    },
    // 近十二周立项与办结 (驾驶舱): items registered and closed per week.
    flow: function () {
      var flow = data.flow;
      return {
        grid: { left: 8, right: 24, top: 16, bottom: 40, containLabel: true },
        tooltip: { trigger: "axis", formatter: function (params) {
          var lines = [escapeHtml(flow.titles[params[0].dataIndex])];
          params.forEach(function (p) { lines.push(escapeHtml(p.seriesName) + " " + p.value + " 项"); });
          return lines.join("<br>");
        } },
        legend: { bottom: 0 },
        xAxis: { type: "category", data: flow.weeks },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: "立项", type: "bar", data: flow.registered, itemStyle: { color: COLORS.bar }, barMaxWidth: 18 },
                 { name: "办结", type: "line", data: flow.closed, itemStyle: { color: COLORS.green }, symbolSize: 7 }]
      };
    },
    // 按时办理率走势: the overall rate per month, and each department's (thin lines).
    trend: function () {
      var trend = data.trend;
      var series = [{ name: "全部部门", type: "line", data: trend.overall, lineStyle: { width: 3 },
                      itemStyle: { color: COLORS.line }, symbolSize: 7, z: 3 }];
      trend.departments.forEach(function (d) {
        series.push({ name: d.name, type: "line", data: d.rates, lineStyle: { width: 1.5 }, symbolSize: 5 });
      });
      return {
        grid: { left: 8, right: 24, top: 16, bottom: 40, containLabel: true },
        tooltip: { trigger: "axis", valueFormatter: percent },
        legend: { bottom: 0, type: "scroll" },
        xAxis: { type: "category", data: trend.months, boundaryGap: false },
        yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
        series: series
      };
    }
  };

  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (container) {
    var build = options[container.dataset.chart];
    if (!build) { return; }
    var chart = window.echarts.init(container, null, { renderer: "canvas" });
    chart.on("finished", function () { container.dataset.ready = "true"; });
    var option = build();
    option.animation = false;
    option.textStyle = { fontFamily: FONT };
    chart.setOption(option);
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
