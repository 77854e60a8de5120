// Select the whole one-time link or token when its field gets focus, so it is copied in one go.
// (A static file rather than an onfocus= attribute: the Content-Security-Policy allows no inline script.)
document.querySelectorAll("input[data-select-on-focus]").forEach(function (input) {
  input.addEventListener("focus", function () {
    input.select();
  });
});
