// The collection points' map (E3). Without this script the list of points, their addresses
// and hours work as they are: it only adds the map of the listed points.
(function () {
  'use strict';
  var el = document.getElementById('eshop-map');
  if (!el || !window.L) return;
  var spots = document.querySelectorAll('[data-lat][data-lon]');
  var bounds = [];
  var marks = [];
  for (var i = 0; i < spots.length; i++) {
    var lat = parseFloat(spots[i].getAttribute('data-lat'));
    var lon = parseFloat(spots[i].getAttribute('data-lon'));
    if (isFinite(lat) && isFinite(lon)) {
      bounds.push([lat, lon]);
      marks.push({ at: [lat, lon], title: spots[i].getAttribute('data-title') || '', href: spots[i].getAttribute('data-href') || '' });
    }
  }
  if (!marks.length) return;
  el.hidden = false;
  var map = L.map(el, { scrollWheelZoom: false });
  // The attribution is the tenant's text: shown as text, never as markup.
  var attribution = document.createElement('span');
  attribution.textContent = el.getAttribute('data-attribution') || '';
  L.tileLayer(el.getAttribute('data-tiles'), { attribution: attribution.innerHTML, maxZoom: 19 }).addTo(map);
  marks.forEach(function (mk) {
    var popup = document.createElement(mk.href ? 'a' : 'span');
    if (mk.href) popup.href = mk.href;
    popup.textContent = mk.title;
    L.marker(mk.at, { title: mk.title, alt: mk.title }).addTo(map).bindPopup(popup);
  });
  map.fitBounds(bounds, { maxZoom: 16, padding: [24, 24] });
  el.setAttribute('data-ready', '1');
})();
