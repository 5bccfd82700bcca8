(function () {
  "use strict";
  // Any script error, rejected promise or blocked resource becomes visible text
  // in #js-errors, so a test (or a reader) can see that the page is broken.
  var box = document.getElementById("js-errors");
  function report(text) {
    var item = document.createElement("li");
    item.textContent = text;
    box.appendChild(item);
    box.hidden = false;
    document.documentElement.setAttribute("data-js-errors", String(box.children.length));
  }
  window.addEventListener("error", function (e) {
    report("error: " + e.message + " (" + e.filename + ":" + e.lineno + ")");
  });
  window.addEventListener("unhandledrejection", function (e) { report("unhandled rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) {
    report("blocked by content security policy: " + e.violatedDirective + " " + e.blockedURI);
  });
})();
