// evalkit HTML report: filters (changed / failed / flaky / text) and grouping by a slice
// column. Plain DOM, no library, nothing fetched; the page reads fine without it.
(function () {
  "use strict";
  var table = document.getElementById("examples");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.querySelectorAll("tr.ex"));
  rows.forEach(function (row, i) { row.dataset.order = String(i); });
  var filters = Array.prototype.slice.call(document.querySelectorAll("input.filter"));
  var search = document.getElementById("search");
  var groupBy = document.getElementById("group-by");
  var count = document.getElementById("shown-count");
  var width = table.dataset.cols || "1";

  function matches(row) {
    for (var i = 0; i < filters.length; i++) {
      if (filters[i].checked && row.dataset[filters[i].value] !== "1") { return false; }
    }
    var text = search ? search.value.trim().toLowerCase() : "";
    return !text || row.textContent.toLowerCase().indexOf(text) >= 0;
  }

  function group() {
    Array.prototype.slice.call(body.querySelectorAll("tr.group")).forEach(function (r) {
      r.remove();
    });
    var key = groupBy ? groupBy.value : "";
    document.querySelectorAll("div.slice").forEach(function (div) {
      div.hidden = div.dataset.slice !== key;
    });
    var ordered = rows.slice();
    if (key !== "") {
      var attr = "s" + key;
      ordered.sort(function (a, b) {
        var va = a.dataset[attr], vb = b.dataset[attr];
        if (va !== vb) { return va < vb ? -1 : 1; }
        return Number(a.dataset.order) - Number(b.dataset.order);
      });
    }
    var current = null;
    var fragment = document.createDocumentFragment();  // one re-layout, not one per row
    ordered.forEach(function (row) {
      if (key !== "" && row.dataset["s" + key] !== current) {
        current = row.dataset["s" + key];
        var head = document.createElement("tr");
        head.className = "group";
        head.dataset.value = current;
        var th = document.createElement("th");
        th.colSpan = Number(width);
        head.appendChild(th);
        fragment.appendChild(head);
      }
      fragment.appendChild(row);
    });
    body.appendChild(fragment);
    apply();
  }

  function apply() {
    var shown = 0;
    var groups = {};
    var key = groupBy ? groupBy.value : "";
    rows.forEach(function (row) {
      var ok = matches(row);
      row.hidden = !ok;
      if (ok) { shown += 1; }
      if (key !== "") {
        var g = groups[row.dataset["s" + key]] || (groups[row.dataset["s" + key]] = [0, 0]);
        g[1] += 1;
        if (ok) { g[0] += 1; }
      }
    });
    body.querySelectorAll("tr.group").forEach(function (head) {
      var g = groups[head.dataset.value] || [0, 0];
      var name = groupBy.options[groupBy.selectedIndex].text;
      head.firstChild.textContent = name + " = " + head.dataset.value + " · " + g[0] +
        " of " + g[1] + " shown";
      head.hidden = g[0] === 0;
    });
    if (count) { count.textContent = shown + " of " + rows.length + " shown"; }
  }

  filters.forEach(function (f) { f.addEventListener("change", apply); });
  if (search) { search.addEventListener("input", apply); }
  if (groupBy) { groupBy.addEventListener("change", group); }
  apply();
})();
