import Hummingbird
import Prometheus
import Metrics
