// Charter contract catalog: filter the contracts as the reader types. Plain DOM, no build step,
// works from file:// too. Every word typed must appear in a contract's data-search text
// (namespace, name, title, owner, tags, topics, field names). `?q=word` pre-fills the box.
(function () {
  "use strict";

  function init() {
    var input = document.getElementById("search");
    var contracts = Array.prototype.slice.call(document.querySelectorAll("article.contract"));
    var links = Array.prototype.slice.call(document.querySelectorAll("#index li[data-contract]"));
    var groups = Array.prototype.slice.call(document.querySelectorAll("#index .namespace"));
    var count = document.getElementById("count");
    var empty = document.getElementById("empty");

    function apply() {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var visible = {};
      var shown = 0;
      contracts.forEach(function (el) {
        var text = el.getAttribute("data-search") || "";
        var match = terms.every(function (t) { return text.indexOf(t) !== -1; });
        el.hidden = !match;
        if (match) { visible[el.id] = true; shown += 1; }
      });
      links.forEach(function (li) { li.hidden = !visible[li.getAttribute("data-contract")]; });
      groups.forEach(function (g) { g.hidden = !g.querySelector("li:not([hidden])"); });
      count.textContent = shown + " of " + contracts.length + " contracts";
      empty.hidden = shown !== 0;
    }

    var query = new URLSearchParams(window.location.search).get("q");
    if (query) { input.value = query; }
    input.addEventListener("input", apply);
    apply();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
