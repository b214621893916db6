// Submit the cart form at once; the visible button remains for browsers without scripts.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) { form.submit(); }
});
