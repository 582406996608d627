// Sealpost admin UI: the little behaviour the pages have. Everything
// works without it; it only asks before destructive actions and saves a
// few clicks.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Ask before a destructive action: data-confirm on the button or form.
  document.addEventListener("submit", function (e) {
    var el = e.submitter && e.submitter.dataset.confirm ? e.submitter : e.target;
    var msg = el.dataset ? el.dataset.confirm : "";
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
    }
  });

  document.addEventListener("change", function (e) {
    var el = e.target;
    // Selects that apply at once (filters, a member's format).
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });

  document.addEventListener("input", function (e) {
    var el = e.target;
    // Mark the settings that differ from what is saved.
    if (el.dataset && "original" in el.dataset) {
      var row = el.closest("tr");
      var now = el.type === "checkbox" ? String(el.checked) : el.value.trim();
      if (row) {
        row.classList.toggle("changed", now !== el.dataset.original);
      }
    }
    // Filter a table's rows by what is typed.
    if (el.dataset && el.dataset.filter) {
      var table = document.getElementById(el.dataset.filter);
      var q = el.value.trim().toLowerCase();
      if (table) {
        table.querySelectorAll("tbody tr").forEach(function (tr) {
          tr.classList.toggle("hidden", q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0);
        });
      }
    }
  });

  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target.closest("[data-dismiss], [data-copy]") : null;
    if (!el) {
      return;
    }
    // Close a message.
    if (el.hasAttribute("data-dismiss")) {
      var box = el.closest(".flash");
      if (box) {
        box.remove();
      }
      return;
    }
    // Copy a secret shown once.
    var src = document.getElementById(el.dataset.copy);
    if (src && navigator.clipboard) {
      navigator.clipboard.writeText(src.textContent.trim()).then(function () {
        var label = el.querySelector("span");
        if (label) {
          label.textContent = "Copied";
        }
      });
    }
  });

  // The new-list form: "Deliver to" is for gateways only.
  var form = document.querySelector("[data-mode-form]");
  if (form) {
    var gatewayOnly = form.querySelectorAll("[data-gateway-only]");
    var update = function () {
      var mode = form.querySelector("input[name=mode]:checked");
      var gw = mode && mode.value === "gateway";
      gatewayOnly.forEach(function (f) {
        f.classList.toggle("hidden", !gw);
      });
    };
    form.addEventListener("change", update);
    update();
  }
})();
