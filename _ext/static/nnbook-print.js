/* Printed pages (make pdf): a display equation wider than the text column is scaled down to fit
   it, instead of being cut off at the right margin.  The widths are measured in the print layout
   (when the print media query starts to match, and on beforeprint) and undone after printing. */
(function () {
  "use strict";
  function equations() {
    return document.querySelectorAll('mjx-container[display="true"]');
  }
  function fit() {
    // Reads and writes in separate passes: each read after a write would lay out the whole
    // (book-long) page again, once per equation.
    var ms = Array.prototype.slice.call(equations());
    ms.forEach(function (m) { m.style.zoom = ""; m.classList.remove("nnb-fitted"); });
    // The column is the equation's parent (MyST's div.math, or a cell's LaTeX output): the
    // container itself may grow as wide as the equation.
    var sizes = ms.map(function (m) {
      return [m.parentElement ? m.parentElement.clientWidth : 0,
              Math.max(m.scrollWidth, m.getBoundingClientRect().width)];
    });
    ms.forEach(function (m, i) {
      var avail = sizes[i][0], need = sizes[i][1];
      if (avail > 0 && need > avail + 1) {
        m.style.zoom = (Math.floor((avail / need) * 1000) / 1000).toString();
        m.classList.add("nnb-fitted");
      }
    });
  }
  function unfit() {
    equations().forEach(function (m) {
      if (m.classList.contains("nnb-fitted")) {
        m.style.zoom = "";
        m.classList.remove("nnb-fitted");
      }
    });
  }
  var print = window.matchMedia("print");
  var onChange = function (e) { if (e.matches) { fit(); } else { unfit(); } };
  if (print.addEventListener) { print.addEventListener("change", onChange); } else { print.addListener(onChange); }
  window.addEventListener("beforeprint", fit);
  window.addEventListener("afterprint", unfit);
  if (print.matches) { fit(); }
  window.nnbFitEquations = fit;
})();
