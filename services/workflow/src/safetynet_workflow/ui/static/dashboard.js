// The dashboard's charts (Apache ECharts, served by the UI itself): the child regions' open cases by step and
// the weekly opened/closed trend. Every bar and point is a link into the case list, like the numbers in the
// tables under the charts (which carry the same links, so the page works without the library too).
(function () {
  "use strict";
  const source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) return;
  const data = JSON.parse(source.textContent);
  const stepColors = ["#8ab4f8", "#0b57d0", "#188038", "#f29900"];
  const steps = ["screen", "verify", "assist", "evaluate"];
  const go = function (href) { if (href) window.location.href = href; };
  const charts = [];

  function chart(id, height) {
    const element = document.getElementById(id);
    if (!element) return null;
    element.style.height = height + "px";
    const instance = window.echarts.init(element, null, { renderer: "svg" });
    charts.push(instance);
    return instance;
  }

  const names = data.children.map(function (c) { return c.name; });
  const byChild = chart("chart-children", Math.max(220, 34 * names.length + 70));
  if (byChild) {
    byChild.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, data: steps.map(function (s) { return data.steps[s]; }) },
      grid: { left: 8, right: 28, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: names, inverse: true, triggerEvent: true },
      series: steps.map(function (step, i) {
        return {
          name: data.steps[step], type: "bar", stack: "cases", color: stepColors[i],
          label: { show: true, formatter: function (p) { return p.value ? String(p.value) : ""; } },
          data: data.children.map(function (c) { return { value: c.cases_by_step[step], href: c.links[step] }; })
        };
      })
    });
    byChild.on("click", function (params) {
      if (params.componentType === "yAxis") {
        const child = data.children[names.indexOf(params.value)];
        go(child && child.links.dashboard);
      } else {
        go(params.data && params.data.href);
      }
    });
  }

  const trend = chart("chart-trend", 260);
  if (trend) {
    const series = function (key, color) {
      return {
        name: source.dataset[key] || key, type: "line", smooth: false, symbolSize: 9, color: color,
        label: { show: true, formatter: function (p) { return p.value ? String(p.value) : ""; } },
        data: data.trend.map(function (w) { return { value: w[key], href: w.links[key] }; })
      };
    };
    trend.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.trend.map(function (w) { return w.week.slice(5, 16).replace("T", " "); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [series("opened", "#b3261e"), series("closed", "#188038")]
    });
    trend.on("click", function (params) { go(params.data && params.data.href); });
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
