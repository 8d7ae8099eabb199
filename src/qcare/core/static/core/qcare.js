/* QCare UI shell behaviour. Every page works without this file; it only adds comfort.
   No inline scripts anywhere (CSP script-src 'self'), so all behaviour hangs on data-attributes. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // htmx requests carry the CSRF token as a header (the cookie is HttpOnly, so it comes from the meta tag).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  // <form data-confirm="…"> or <button data-confirm="…">: ask before destructive actions.
  // Without JavaScript the server shows its own confirmation page instead.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // <button data-qc-print>: open the browser's print dialog (printable record pages).
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-qc-print]")) { window.print(); }
  });

  // <select data-autosubmit>: submit the filter form when a choice changes (page size, filters).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) {
      if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
    }
  });

  // Tabs loaded by htmx: mark the clicked tab active (the server marks it on full page loads).
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest("[data-qc-tab]");
    if (!tab) { return; }
    var list = tab.closest(".nav");
    list.querySelectorAll("[data-qc-tab]").forEach(function (other) {
      other.classList.remove("active");
      other.removeAttribute("aria-current");
    });
    tab.classList.add("active");
    tab.setAttribute("aria-current", "page");
  });
})();
