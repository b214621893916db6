// Show the keep-alive warning when the buyer-side session is about to expire.
document.addEventListener("DOMContentLoaded", function () {
  var banner = document.getElementById("keep-alive");
  if (!banner) { return; }
  var seconds = parseInt(banner.getAttribute("data-warn-in"), 10) || 0;
  setTimeout(function () { banner.hidden = false; }, seconds * 1000);
});
