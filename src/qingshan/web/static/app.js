/* Qingshan pages: draw the charts embedded as JSON, follow chart clicks, open the menu.
   No request leaves the page: ECharts is served from /static/web/vendor. */
(function () {
  "use strict";

  function draw(element) {
    var spec = JSON.parse(document.getElementById(element.dataset.chart).textContent);
    if (spec.map) { echarts.registerMap(spec.map.name, spec.map.geojson); }
    var option = spec.option;
    option.aria = option.aria || { enabled: true };
    var chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(option);
    if (spec.links) {
      chart.on("click", function (event) {
        var target = spec.links[event.name];
        if (target) { window.location.href = target; }
      });
    }
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function menu() {
    var button = document.querySelector(".nav-toggle");
    var nav = document.getElementById("nav");
    if (!button || !nav) { return; }
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
  menu();
}());
